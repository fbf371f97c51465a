/* avro_canon — Avro Parsing Canonical Form and the CRC-64-AVRO (Rabin)
 * fingerprint, from the Avro specification (avro-c 1.11 has neither).
 * Works on schema JSON text; no avro-c types. */
#ifndef CKS_AVRO_CANON_H
#define CKS_AVRO_CANON_H

#include "util.h"

/* Parsing Canonical Form of schema_json. Caller frees. NULL on invalid
 * schema JSON, with errstr filled. */
char *cks_avro_canonical(const char *schema_json, char *errstr, size_t errstr_size);
/* CRC-64-AVRO of bytes (the spec's fingerprint64). */
uint64_t cks_avro_crc64(const void *data, size_t len);

#endif
