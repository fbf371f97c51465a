/* codec — Avro single-object encoding (C3 01, 8-byte little-endian
 * CRC-64-AVRO fingerprint of the writer schema's canonical form, binary
 * datum) of the wire messages in schemas/ (.avsc): revision (cks_revmsg),
 * conflict (cks_conflict), unversioned object (cks_objmsg). The decoder
 * picks the writer schema by fingerprint among every released version
 * (schemas/history/) and resolves it to the current reader schema, applying
 * reader defaults itself. Any byte string either decodes or returns an error:
 * no crash, no leak, no huge allocation. One cks_codec per thread. */
#ifndef CKS_CODEC_H
#define CKS_CODEC_H

#include "model.h"

typedef struct cks_codec cks_codec;

typedef enum cks_msgtype {
	CKS_MSG_REVISION = 0,
	CKS_MSG_CONFLICT = 1,
	CKS_MSG_OBJECT = 2,
} cks_msgtype;

/* Loads the embedded schemas. Caller owns *out; free with cks_codec_destroy. */
cks_err cks_codec_new(cks_codec **out, char *errstr, size_t errstr_size) CKS_WUR;
void cks_codec_destroy(cks_codec *codec);

/* Fingerprint of the current writer schema of a message type (for headers). */
uint64_t cks_codec_fingerprint(const cks_codec *codec, cks_msgtype type);

/* Appends the single-object encoding of m to out. PERMANENT if m cannot be
 * represented (e.g. invalid UUID text). */
cks_err cks_codec_encode_revision(cks_codec *codec, const cks_revmsg *m, cks_buf *out, char *errstr,
                                  size_t errstr_size) CKS_WUR;
cks_err cks_codec_encode_conflict(cks_codec *codec, const cks_conflict *c, cks_buf *out,
                                  char *errstr, size_t errstr_size) CKS_WUR;
cks_err cks_codec_encode_object(cks_codec *codec, const cks_objmsg *o, cks_buf *out, char *errstr,
                                size_t errstr_size) CKS_WUR;

/* Decodes into *m (which must be CKS_REVMSG_INIT / zeroed; caller releases
 * it even on error). UNKNOWN_SCHEMA for an unknown fingerprint, PERMANENT for
 * anything else malformed, with the reason (e.g. "truncated datum at byte 57",
 * "bad magic 0x00 0x01", "parents: 3 > 2", "object_id: not a UUID"). */
cks_err cks_codec_decode_revision(cks_codec *codec, const void *data, size_t len, cks_revmsg *m,
                                  char *errstr, size_t errstr_size) CKS_WUR;
cks_err cks_codec_decode_conflict(cks_codec *codec, const void *data, size_t len, cks_conflict *c,
                                  char *errstr, size_t errstr_size) CKS_WUR;
cks_err cks_codec_decode_object(cks_codec *codec, const void *data, size_t len, cks_objmsg *o,
                                char *errstr, size_t errstr_size) CKS_WUR;

/* Schema evolution and tooling. A datum in "generic" form is a jansson value
 * in the shape of its schema: records as objects, unions as the bare branch
 * value, enums as symbol strings, bytes/fixed as strings of code points
 * 0-255 (Avro's JSON encoding without the union wrappers). */

/* Makes one more writer schema known for a message type (e.g. a newer
 * producer's, registered by an operator); *fingerprint (may be NULL) gets
 * its fingerprint. The schema JSON is copied. FATAL if it does not parse. */
cks_err cks_codec_add_schema(cks_codec *codec, cks_msgtype type, const char *schema_json,
                             uint64_t *fingerprint, char *errstr, size_t errstr_size) CKS_WUR;
/* Appends the single-object encoding of a generic datum with the known
 * writer schema of that fingerprint (missing fields take their defaults). */
cks_err cks_codec_encode_generic(cks_codec *codec, uint64_t fingerprint, const json_t *datum,
                                 cks_buf *out, char *errstr, size_t errstr_size) CKS_WUR;
/* Decodes any known message as written (no resolution to the reader
 * schema); *type (may be NULL) gets its message type. Caller owns *out. */
cks_err cks_codec_decode_generic(cks_codec *codec, const void *data, size_t len, cks_msgtype *type,
                                 json_t **out, char *errstr, size_t errstr_size) CKS_WUR;

#endif
