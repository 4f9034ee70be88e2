/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_rec_json.c - libFuzzer target: the input is a little program of record
 * operations (adds of every type, begin/end in any order, removes, clones)
 * with keys drawn from an alphabet rich in '.', prefixes and bytes that need
 * escaping. The record is then serialised; the output must be strict JSON
 * without duplicate keys (ns_fake_json_check), and a clone, a second run (the
 * cached plan) and a copy with every key by name must serialise to the same
 * bytes. Ops with the top bit set add by interned key (ns_rec_key). Built
 * with -DNS_FUZZ=ON (clang):
 *   build-fuzz/tests/record/fuzz_rec_json -max_total_time=60
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ns_fake_host.h"
#include "ns_json.h"
#include "ns_rec.h"
#include "rec_copy.h"

struct in {
    const uint8_t *p;
    size_t n;
};

static uint8_t take(struct in *in)
{
    if (!in->n)
        return 0;
    in->n--;
    return *in->p++;
}

/* A key: mostly from a collision-prone alphabet, sometimes raw bytes. */
static const char *key(struct in *in, char *buf, size_t cap)
{
    static const char *const parts[] = {"a",    "b",     ".",          "a.b",    "",
                                        "-",    "\"",    "\\",         "\x01",   "\xc3\xa9",
                                        "\xff", "event", "@timestamp", "dataset"};
    uint8_t mode = take(in);
    if (mode == 0xff)
        return NULL;
    size_t len = 0, n = (size_t)(mode % 6);
    for (size_t i = 0; i < n && len + 16 < cap; i++) {
        uint8_t b = take(in);
        if (mode & 0x80) {
            buf[len++] = b ? (char)b : 'z'; /* keys are C strings */
        } else {
            const char *s = parts[b % (sizeof(parts) / sizeof(parts[0]))];
            size_t l = strlen(s);
            memcpy(buf + len, s, l);
            len += l;
        }
    }
    buf[len] = 0;
    return buf;
}

/* Serialise r into a fresh buffer; abort on failure. */
static char *json(const struct ns_record *r, size_t *len)
{
    char *b = NULL;
    size_t cap = 0;
    *len = 0;
    if (ns_rec_to_json(r, &b, &cap, len) != 0)
        abort();
    return b;
}

static void check(const struct ns_record *r)
{
    char *a = NULL, *b = NULL;
    size_t ca = 0, la = 0, cb = 0, lb = 0;
    if (ns_rec_to_json(r, &a, &ca, &la) != 0)
        abort();
    /* Again (the plan is now cached and replayed), and from a copy with
     * copied keys: the same bytes. */
    size_t l2, l3;
    char *a2 = json(r, &l2);
    struct ns_record *nc = rec_copy(r, REC_COPY_NAMES); /* every key copied by name */
    if (!nc)
        abort();
    char *a3 = json(nc, &l3);
    if (l2 != la || memcmp(a2, a, la) != 0 || l3 != la || memcmp(a3, a, la) != 0) {
        fprintf(stderr, "differ:\n%.*s\n%.*s\n%.*s\n", (int)la, a, (int)l2, a2, (int)l3, a3);
        abort();
    }
    free(a2);
    free(a3);
    ns_rec_release(nc);
    const char *err = ns_fake_json_check(a, la);
    if (err) {
        fprintf(stderr, "invalid JSON: %s\n%.*s\n", err, (int)la, a);
        abort();
    }
    struct ns_record *c = ns_rec_clone(r);
    if (!c || ns_rec_to_json(c, &b, &cb, &lb) != 0 || la != lb || memcmp(a, b, la) != 0)
        abort();
    ns_rec_release(c);
    free(a);
    free(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int once;
    if (!once) {
        ns_json_set_hostname("fuzz");
        once = 1;
    }
    struct in in = {data, size};
    struct ns_record *r = ns_rec_new((enum ns_rec_type)(1 + take(&in) % 13), 1704164645ull << 20);
    ns_rec_set_seq(r, take(&in));
    char kb[128], sb[64];
    while (in.n) {
        uint8_t op = take(&in);
        const char *k = key(&in, kb, sizeof(kb));
        /* op >= 0x80: the add by interned key (a handle; 0 for a key that
         * has none, which such an add refuses unless in an array). */
        uint32_t kid = op >= 0x80 && k ? ns_rec_key(k) : 0;
        if (op >= 0x80 && op % 14 <= 10) {
            switch (op % 14) {
            case 0:
                ns_rec_add_uint_k(r, kid, (uint64_t)take(&in) << (take(&in) % 57));
                break;
            case 1: {
                size_t l = take(&in) % sizeof(sb);
                for (size_t i = 0; i < l; i++)
                    sb[i] = (char)take(&in);
                ns_rec_add_str_k(r, kid, sb, l);
                break;
            }
            case 2:
                ns_rec_add_int_k(r, kid, -(int64_t)take(&in) * 1000003);
                break;
            case 3:
                ns_rec_add_double_k(r, kid, (double)take(&in) / 3.0);
                break;
            case 4:
                ns_rec_add_bool_k(r, kid, take(&in) & 1);
                break;
            case 5: {
                struct ns_ip ip = {.family = (uint8_t)(take(&in) % 8)};
                for (int i = 0; i < 16; i++)
                    ip.a[i] = take(&in);
                ns_rec_add_ip_k(r, kid, &ip);
                break;
            }
            case 6: {
                uint8_t mac[6];
                for (int i = 0; i < 6; i++)
                    mac[i] = take(&in);
                ns_rec_add_mac_k(r, kid, mac);
                break;
            }
            case 7:
                ns_rec_add_time_k(r, kid, (uint64_t)take(&in) << (take(&in) % 60));
                break;
            case 8:
            case 9:
                ns_rec_begin_array_k(r, kid);
                break;
            default:
                ns_rec_begin_object_k(r, kid);
                break;
            }
            continue;
        }
        switch (op % 14) {
        case 0:
            ns_rec_add_uint(r, k, (uint64_t)take(&in) << (take(&in) % 57));
            break;
        case 1: {
            size_t l = take(&in) % sizeof(sb);
            for (size_t i = 0; i < l; i++)
                sb[i] = (char)take(&in);
            ns_rec_add_str(r, k, sb, l);
            break;
        }
        case 2:
            ns_rec_add_int(r, k, -(int64_t)take(&in) * 1000003);
            break;
        case 3: {
            uint64_t bits = 0;
            for (int i = 0; i < 8; i++)
                bits = bits << 8 | take(&in);
            double d;
            memcpy(&d, &bits, sizeof(d));
            ns_rec_add_double(r, k, d);
            break;
        }
        case 4:
            ns_rec_add_bool(r, k, take(&in) & 1);
            break;
        case 5: {
            struct ns_ip ip = {.family = (uint8_t)(take(&in) % 8)};
            for (int i = 0; i < 16; i++)
                ip.a[i] = take(&in);
            ns_rec_add_ip(r, k, &ip);
            break;
        }
        case 6: {
            uint8_t mac[6];
            for (int i = 0; i < 6; i++)
                mac[i] = take(&in);
            ns_rec_add_mac(r, k, mac);
            break;
        }
        case 7:
            ns_rec_add_time(r, k, (uint64_t)take(&in) << (take(&in) % 60));
            break;
        case 8:
        case 9:
            ns_rec_begin_array(r, k);
            break;
        case 10:
            ns_rec_begin_object(r, k);
            break;
        case 11:
        case 12:
            ns_rec_end(r);
            break;
        default:
            if (take(&in) & 1) {
                ns_rec_remove(r, k);
            } else {
                struct ns_record *c = ns_rec_clone(r);
                if (c) {
                    ns_rec_release(r);
                    r = c;
                }
            }
            break;
        }
    }
    check(r);
    ns_rec_release(r);
    return 0;
}
