/* SPDX-License-Identifier: Apache-2.0 */
/*
 * dns_domain.c - registered domain / public suffix / subdomain of a DNS name
 * with libpsl (see dns_domain.h). Used by decoder/dns (worker thread) and the
 * tests.
 */
#include "dns_domain.h"

bool dns_domain_split(const psl_ctx_t *psl, const char *name, size_t len, char *buf, size_t bufsz,
                      struct dns_domain *out)
{
    /* The lookup copy: libpsl splits labels at every '.', so an escaped dot
     * ("\.", part of a label) is replaced by '_' there; both copies have the
     * same length, so an offset into one is an offset into the other. */
    char look[DNS_DOMAIN_MAX];
    if (psl == NULL || len == 0 || len >= bufsz || len >= sizeof(look))
        return false;
    bool label_empty = true;
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        char ch = name[i];
        if (ch == '\0')
            return false;
        if (ch >= 'A' && ch <= 'Z')
            ch = (char)(ch - 'A' + 'a');
        if (ch == '\\' && i + 1 < len) {
            /* "\X": X is part of the label, whatever it is ("\DDD" digits
             * are plain label characters after the first). */
            buf[n] = look[n] = '\\';
            n++;
            i++;
            ch = name[i];
            if (ch >= 'A' && ch <= 'Z')
                ch = (char)(ch - 'A' + 'a');
            buf[n] = ch;
            look[n] = ch == '.' ? '_' : ch;
            n++;
            label_empty = false;
            continue;
        }
        if (ch == '.') {
            if (label_empty) {
                /* An empty label: the root ("."), a leading dot or "..". A
                 * single trailing dot (absolute name) is dropped. */
                return false;
            }
            if (i + 1 == len)
                break;
            label_empty = true;
        } else {
            label_empty = false;
        }
        buf[n] = look[n] = ch;
        n++;
    }
    if (n == 0 || label_empty)
        return false;
    buf[n] = look[n] = '\0';

    /* The longest public suffix (libpsl applies the implicit "*" rule, so a
     * name under an unlisted TLD still has one: its last label). */
    const char *suf = psl_unregistrable_domain(psl, look);
    if (suf == NULL || suf < look || suf >= look + n)
        return false;
    const char *reg = psl_registrable_domain(psl, look);
    out->len = n;
    out->tld = (size_t)(suf - look);
    out->has_reg = reg != NULL && reg >= look && reg < suf;
    out->reg = out->has_reg ? (size_t)(reg - look) : out->tld;
    return true;
}
