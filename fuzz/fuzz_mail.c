/* fuzz_mail.c: e-mail to text (src/text/mail.c: headers, RFC 2047 words, MIME multiparts,
 * quoted-printable, base64, charsets, HTML), as `elmo data spamassassin` reads the corpus. The
 * result must be valid UTF-8 without tabs or line breaks (mail.h). */
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "text/mail.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_init();
    elmo_strbuf out = {0};
    elmo_status s = elmo_mail_text((const char *)data, size, &out);
    fuzz_check_error(s);
    if (!s && out.p) {
        fuzz_check_utf8(out.p, out.n);
        if (memchr(out.p, '\t', out.n) || memchr(out.p, '\n', out.n) || memchr(out.p, '\r', out.n))
            abort();
    }
    elmo_strbuf_free(&out);
    return 0;
}
