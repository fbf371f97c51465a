/* fuzz_decode — libFuzzer target: any byte string given to the three
 * decoders (and the generic one) decodes or fails cleanly: no crash, no
 * leak, no hang, no huge allocation (run with -rss_limit_mb and ASan).
 * The input is also tried with a valid revision header in front, so the
 * fuzzer reaches the datum reader without guessing the fingerprint. */
#include "codec.h"

#include <stdlib.h>
#include <string.h>

static void decode_all(cks_codec *codec, const uint8_t *data, size_t size)
{
	char err[256];
	cks_revmsg m = CKS_REVMSG_INIT;
	cks_conflict c;
	cks_objmsg o;
	json_t *g = NULL;
	memset(&c, 0, sizeof(c));
	memset(&o, 0, sizeof(o));
	if (cks_codec_decode_revision(codec, data, size, &m, err, sizeof(err)) == CKS_OK) {
		/* what decodes must encode again */
		cks_buf b = CKS_BUF_INIT;
		if (cks_codec_encode_revision(codec, &m, &b, err, sizeof(err)) != CKS_OK)
			abort();
		cks_buf_release(&b);
	}
	cks_revmsg_release(&m);
	(void)cks_codec_decode_conflict(codec, data, size, &c, err, sizeof(err));
	cks_conflict_release(&c);
	(void)cks_codec_decode_object(codec, data, size, &o, err, sizeof(err));
	cks_objmsg_release(&o);
	(void)cks_codec_decode_generic(codec, data, size, NULL, &g, err, sizeof(err));
	json_decref(g);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static cks_codec *codec; /* one per process: loading schemas is not what we fuzz */
	char err[256];
	if (!codec && cks_codec_new(&codec, err, sizeof(err)) != CKS_OK)
		abort();
	decode_all(codec, data, size);
	/* the first byte picks a header: 0 revision, 1 conflict, 2 object, else none */
	if (size > 0 && data[0] < 3) {
		uint64_t fp = cks_codec_fingerprint(codec, (cks_msgtype)data[0]);
		uint8_t *buf = malloc(size - 1 + 10);
		buf[0] = 0xC3;
		buf[1] = 0x01;
		for (int i = 0; i < 8; i++)
			buf[2 + i] = (uint8_t)(fp >> (8 * i));
		memcpy(buf + 10, data + 1, size - 1);
		decode_all(codec, buf, size - 1 + 10);
		free(buf);
	}
	return 0;
}
