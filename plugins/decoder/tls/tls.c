/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tls.c - decoder/tls plugin glue: TLS handshakes in, netscope.tls records out.
 *
 * An application decoder (NS_PLUGIN_APP): decoder/flow calls app_probe,
 * app_data, app_annotate and app_close on its worker thread with each
 * direction's reassembled TCP payload. The parsing is pure code in
 * tls_parse.c / tls_x509.c; this file claims flows, turns a finished
 * handshake into one ECS record, and counts what went wrong. Once the record
 * is out the flow's parser state is freed and the flow declined (only the
 * server name stays, for the flow record). Options and fields: README.md.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "netscope/netscope.h"

#include "ns_app_glue.h"
#include "tls_parse.h"

#define TLS_SNI_IN 64          /* server name kept inline up to this           */
#define TLS_FLOW_FREE_MAX 4096 /* spare flow states kept                       */
#define TLS_SESS_FREE_MAX 256  /* spare handshake states kept (a few KiB each) */

struct tls_config {
    uint64_t max_handshake;
    uint64_t max_certificates;
    uint64_t certificate_cache;
};

struct tls_ctx {
    struct ns_instance *ins;
    const struct ns_host *h;
    struct tls_config cfg;
    ns_counter *c_flows, *c_records, *c_rec_fail, *c_alloc_fail, *g_active;
    ns_counter *c_err_record, *c_err_big, *c_err_hello, *c_err_cert, *c_err_gap, *c_err_cut;
    ns_counter *g_cache_hits, *g_cache_misses;
    struct tls_x509_cache *cache; /* this worker's parsed certificates, or NULL */
    uint64_t active;
    /* Spare flow and handshake states: every TLS flow needs both, and
     * malloc/free of them on a heap with many live flows costs more than a
     * ClientHello's parsing. */
    struct ns_app_pool flows, sessions;
    EVP_MD_CTX *mdctx; /* reused by every digest (NULL: one per digest) */
};

/* Per claimed flow. `s` is freed once the record is emitted. */
struct tls_flow {
    struct tls_session *s;
    bool reported;
    bool swap; /* the flow's initiator is the TLS server (capture began late) */
    char *sni; /* kept for app_annotate after `s` is gone: sni_in or malloc'd */
    size_t sni_len;
    char sni_in[TLS_SNI_IN];
};

#define OFF(f) offsetof(struct tls_config, f)
static const struct ns_option tls_options[] = {
    {.name = "max_handshake",
     .type = NS_OPT_SIZE,
     .def = "64KiB",
     .min = 1024,
     .max = 16777216,
     .offset = OFF(max_handshake),
     .doc = "Largest handshake message assembled (certificate chains are the big ones); a "
            "larger one stops parsing that direction (counted as too_big)."},
    {.name = "max_certificates",
     .type = NS_OPT_UINT,
     .def = "4",
     .min = 1,
     .max = TLS_MAX_CERTS,
     .offset = OFF(max_certificates),
     .doc = "Certificates of the server chain parsed (leaf first); the rest are counted."},
    {.name = "certificate_cache",
     .type = NS_OPT_UINT,
     .def = "256",
     .max = 65536,
     .offset = OFF(certificate_cache),
     .doc = "Parsed certificates kept per worker, keyed by their SHA-256 (least recently used "
            "dropped first); OpenSSL parsing costs ~0.2 ms per certificate, a hit a hash. 0 "
            "turns the cache off."},
    NS_OPT_END};

/* Record keys, interned at init (plugins/common/ns_rec_keys.h). */
enum tls_key_id {
    TLSK_TLS_CLIENT_SERVER_NAME,
    TLSK_TLS_CLIENT_JA3,
    TLSK_TLS_CLIENT_JA3_STRING,
    TLSK_TLS_CLIENT_JA4,
    TLSK_TLS_CLIENT_SUPPORTED_CIPHERS,
    TLSK_NETSCOPE_TLS_CLIENT_SUPPORTED_VERSIONS,
    TLSK_NETSCOPE_TLS_CLIENT_ALPN,
    TLSK_TLS_SERVER_X509_SUBJECT_COMMON_NAME,
    TLSK_TLS_SERVER_X509_ISSUER_COMMON_NAME,
    TLSK_TLS_SERVER_X509_ALTERNATIVE_NAMES,
    TLSK_TLS_SERVER_X509_SERIAL_NUMBER,
    TLSK_TLS_SERVER_X509_NOT_BEFORE,
    TLSK_TLS_SERVER_X509_NOT_AFTER,
    TLSK_TLS_SERVER_NOT_BEFORE,
    TLSK_TLS_SERVER_NOT_AFTER,
    TLSK_TLS_SERVER_HASH_SHA256,
    TLSK_TLS_SERVER_SUBJECT,
    TLSK_TLS_SERVER_ISSUER,
    TLSK_NETSCOPE_TLS_SERVER_CHAIN,
    TLSK_SUBJECT,
    TLSK_ISSUER,
    TLSK_SERIAL_NUMBER,
    TLSK_NOT_BEFORE,
    TLSK_NOT_AFTER,
    TLSK_ALTERNATIVE_NAMES,
    TLSK_SHA256,
    TLSK_NETSCOPE_TLS_SERVER_CERTIFICATES,
    TLSK_TLS_VERSION,
    TLSK_TLS_VERSION_PROTOCOL,
    TLSK_TLS_CIPHER,
    TLSK_TLS_CURVE,
    TLSK_TLS_NEXT_PROTOCOL,
    TLSK_TLS_SERVER_JA3S,
    TLSK_TLS_SERVER_JA3S_STRING,
    TLSK_NETSCOPE_TLS_HELLO_RETRY,
    TLSK_EVENT_START,
    TLSK_TLS_ESTABLISHED,
    TLSK_TLS_RESUMED,
    TLSK_NETWORK_PROTOCOL,
    TLSK_NETSCOPE_TLS_CLIENT_LEGACY_VERSION,
    TLSK_N
};
static struct ns_key tls_keys[TLSK_N] = {
    [TLSK_TLS_CLIENT_SERVER_NAME] = {"tls.client.server_name", 0},
    [TLSK_TLS_CLIENT_JA3] = {"tls.client.ja3", 0},
    [TLSK_TLS_CLIENT_JA3_STRING] = {"tls.client.ja3_string", 0},
    [TLSK_TLS_CLIENT_JA4] = {"tls.client.ja4", 0},
    [TLSK_TLS_CLIENT_SUPPORTED_CIPHERS] = {"tls.client.supported_ciphers", 0},
    [TLSK_NETSCOPE_TLS_CLIENT_SUPPORTED_VERSIONS] = {"netscope.tls.client.supported_versions", 0},
    [TLSK_NETSCOPE_TLS_CLIENT_ALPN] = {"netscope.tls.client.alpn", 0},
    [TLSK_TLS_SERVER_X509_SUBJECT_COMMON_NAME] = {"tls.server.x509.subject.common_name", 0},
    [TLSK_TLS_SERVER_X509_ISSUER_COMMON_NAME] = {"tls.server.x509.issuer.common_name", 0},
    [TLSK_TLS_SERVER_X509_ALTERNATIVE_NAMES] = {"tls.server.x509.alternative_names", 0},
    [TLSK_TLS_SERVER_X509_SERIAL_NUMBER] = {"tls.server.x509.serial_number", 0},
    [TLSK_TLS_SERVER_X509_NOT_BEFORE] = {"tls.server.x509.not_before", 0},
    [TLSK_TLS_SERVER_X509_NOT_AFTER] = {"tls.server.x509.not_after", 0},
    [TLSK_TLS_SERVER_NOT_BEFORE] = {"tls.server.not_before", 0},
    [TLSK_TLS_SERVER_NOT_AFTER] = {"tls.server.not_after", 0},
    [TLSK_TLS_SERVER_HASH_SHA256] = {"tls.server.hash.sha256", 0},
    [TLSK_TLS_SERVER_SUBJECT] = {"tls.server.subject", 0},
    [TLSK_TLS_SERVER_ISSUER] = {"tls.server.issuer", 0},
    [TLSK_NETSCOPE_TLS_SERVER_CHAIN] = {"netscope.tls.server.chain", 0},
    [TLSK_SUBJECT] = {"subject", 0},
    [TLSK_ISSUER] = {"issuer", 0},
    [TLSK_SERIAL_NUMBER] = {"serial_number", 0},
    [TLSK_NOT_BEFORE] = {"not_before", 0},
    [TLSK_NOT_AFTER] = {"not_after", 0},
    [TLSK_ALTERNATIVE_NAMES] = {"alternative_names", 0},
    [TLSK_SHA256] = {"sha256", 0},
    [TLSK_NETSCOPE_TLS_SERVER_CERTIFICATES] = {"netscope.tls.server.certificates", 0},
    [TLSK_TLS_VERSION] = {"tls.version", 0},
    [TLSK_TLS_VERSION_PROTOCOL] = {"tls.version_protocol", 0},
    [TLSK_TLS_CIPHER] = {"tls.cipher", 0},
    [TLSK_TLS_CURVE] = {"tls.curve", 0},
    [TLSK_TLS_NEXT_PROTOCOL] = {"tls.next_protocol", 0},
    [TLSK_TLS_SERVER_JA3S] = {"tls.server.ja3s", 0},
    [TLSK_TLS_SERVER_JA3S_STRING] = {"tls.server.ja3s_string", 0},
    [TLSK_NETSCOPE_TLS_HELLO_RETRY] = {"netscope.tls.hello_retry", 0},
    [TLSK_EVENT_START] = {"event.start", 0},
    [TLSK_TLS_ESTABLISHED] = {"tls.established", 0},
    [TLSK_TLS_RESUMED] = {"tls.resumed", 0},
    [TLSK_NETWORK_PROTOCOL] = {"network.protocol", 0},
    [TLSK_NETSCOPE_TLS_CLIENT_LEGACY_VERSION] = {"netscope.tls.client.legacy_version", 0},
};
static int tls_keys_ready;
#define TLSK(x) (&tls_keys[TLSK_##x])

/* ---- record --------------------------------------------------------------- */

static void tls_hex16(char out[7], uint16_t v)
{
    snprintf(out, 7, "0x%04x", v);
}

static void tls_add_version(struct tls_ctx *c, struct ns_record *r, const struct ns_key *key,
                            uint16_t v)
{
    const char *n = tls_version_name(v, NULL);
    char hx[7];
    if (n == NULL) {
        tls_hex16(hx, v);
        n = hx;
    }
    if (key != NULL)
        ns_key_cstr(c->h, r, key, n);
    else
        c->h->rec_add_cstr(r, NULL, n); /* an array item */
}

static uint64_t tls_time_ns(int64_t s)
{
    /* Records carry unsigned ns since the epoch: clamp pre-1970 and far
     * future dates rather than wrap. */
    if (s <= 0)
        return 0;
    if ((uint64_t)s > UINT64_MAX / 1000000000u)
        return UINT64_MAX;
    return (uint64_t)s * 1000000000u;
}

static void tls_add_client(struct tls_ctx *c, struct ns_record *r, const struct tls_session *s)
{
    const struct ns_host *h = c->h;
    const struct tls_client_hello *ch = &s->ch;
    char str[TLS_JA3_MAX], md5[33], ja4[TLS_JA4_LEN + 1], hx[7];
    if (ch->sni_len > 0)
        ns_key_str(h, r, TLSK(TLS_CLIENT_SERVER_NAME), ch->sni, ch->sni_len);
    size_t n = tls_ja3(ch, str, sizeof(str), md5);
    ns_key_cstr(h, r, TLSK(TLS_CLIENT_JA3), md5);
    ns_key_str(h, r, TLSK(TLS_CLIENT_JA3_STRING), str, n);
    tls_ja4(ch, 't', ja4);
    ns_key_cstr(h, r, TLSK(TLS_CLIENT_JA4), ja4);
    ns_key_array(h, r, TLSK(TLS_CLIENT_SUPPORTED_CIPHERS));
    for (size_t i = 0; i < ch->n_ciphers; i++) {
        if (tls_is_grease(ch->ciphers[i]))
            continue;
        const char *cn = tls_cipher_name(ch->ciphers[i]);
        if (cn == NULL) {
            tls_hex16(hx, ch->ciphers[i]);
            cn = hx;
        }
        h->rec_add_cstr(r, NULL, cn);
    }
    h->rec_end(r);
    tls_add_version(c, r, TLSK(NETSCOPE_TLS_CLIENT_LEGACY_VERSION), ch->legacy_version);
    if (ch->n_versions > 0) {
        ns_key_array(h, r, TLSK(NETSCOPE_TLS_CLIENT_SUPPORTED_VERSIONS));
        for (size_t i = 0; i < ch->n_versions; i++)
            if (!tls_is_grease(ch->versions[i]))
                tls_add_version(c, r, NULL, ch->versions[i]);
        h->rec_end(r);
    }
    if (ch->n_alpn > 0) {
        ns_key_array(h, r, TLSK(NETSCOPE_TLS_CLIENT_ALPN));
        for (size_t i = 0; i < ch->n_alpn; i++)
            h->rec_add_str(r, NULL, ch->alpn[i], ch->alpn_len[i]);
        h->rec_end(r);
    }
}

static void tls_add_cert(struct tls_ctx *c, struct ns_record *r, const struct tls_x509 *x)
{
    const struct ns_host *h = c->h;
    if (x->subject_cn != NULL)
        ns_key_cstr(h, r, TLSK(TLS_SERVER_X509_SUBJECT_COMMON_NAME), x->subject_cn);
    if (x->issuer_cn != NULL)
        ns_key_cstr(h, r, TLSK(TLS_SERVER_X509_ISSUER_COMMON_NAME), x->issuer_cn);
    if (x->n_san_dns + x->n_san_ip > 0) {
        ns_key_array(h, r, TLSK(TLS_SERVER_X509_ALTERNATIVE_NAMES));
        for (uint16_t i = 0; i < x->n_san_dns; i++)
            h->rec_add_cstr(r, NULL, x->san_dns[i]);
        for (uint16_t i = 0; i < x->n_san_ip; i++)
            h->rec_add_cstr(r, NULL, x->san_ip[i]);
        h->rec_end(r);
    }
    if (x->serial != NULL)
        ns_key_cstr(h, r, TLSK(TLS_SERVER_X509_SERIAL_NUMBER), x->serial);
    if (x->has_validity) {
        ns_key_time(h, r, TLSK(TLS_SERVER_X509_NOT_BEFORE), tls_time_ns(x->not_before));
        ns_key_time(h, r, TLSK(TLS_SERVER_X509_NOT_AFTER), tls_time_ns(x->not_after));
        ns_key_time(h, r, TLSK(TLS_SERVER_NOT_BEFORE), tls_time_ns(x->not_before));
        ns_key_time(h, r, TLSK(TLS_SERVER_NOT_AFTER), tls_time_ns(x->not_after));
    }
    if (x->sha256[0] != '\0')
        ns_key_cstr(h, r, TLSK(TLS_SERVER_HASH_SHA256), x->sha256);
    if (x->subject != NULL)
        ns_key_cstr(h, r, TLSK(TLS_SERVER_SUBJECT), x->subject);
    if (x->issuer != NULL)
        ns_key_cstr(h, r, TLSK(TLS_SERVER_ISSUER), x->issuer);
}

static void tls_add_chain(struct tls_ctx *c, struct ns_record *r, const struct tls_session *s)
{
    const struct ns_host *h = c->h;
    ns_key_array(h, r, TLSK(NETSCOPE_TLS_SERVER_CHAIN));
    for (uint32_t i = 0; i < s->n_certs; i++) {
        const struct tls_x509 *x = &s->certs[i];
        h->rec_begin_object(r, NULL);
        if (x->subject != NULL)
            ns_key_cstr(h, r, TLSK(SUBJECT), x->subject);
        if (x->issuer != NULL)
            ns_key_cstr(h, r, TLSK(ISSUER), x->issuer);
        if (x->serial != NULL)
            ns_key_cstr(h, r, TLSK(SERIAL_NUMBER), x->serial);
        if (x->has_validity) {
            ns_key_time(h, r, TLSK(NOT_BEFORE), tls_time_ns(x->not_before));
            ns_key_time(h, r, TLSK(NOT_AFTER), tls_time_ns(x->not_after));
        }
        if (x->n_san_dns + x->n_san_ip > 0) {
            ns_key_array(h, r, TLSK(ALTERNATIVE_NAMES));
            for (uint16_t k = 0; k < x->n_san_dns; k++)
                h->rec_add_cstr(r, NULL, x->san_dns[k]);
            for (uint16_t k = 0; k < x->n_san_ip; k++)
                h->rec_add_cstr(r, NULL, x->san_ip[k]);
            h->rec_end(r);
        }
        if (x->sha256[0] != '\0')
            ns_key_cstr(h, r, TLSK(SHA256), x->sha256);
        h->rec_end(r);
    }
    h->rec_end(r);
    ns_key_uint(h, r, TLSK(NETSCOPE_TLS_SERVER_CERTIFICATES), s->total_certs);
}

static void tls_add_server(struct tls_ctx *c, struct ns_record *r, const struct tls_session *s)
{
    const struct ns_host *h = c->h;
    const struct tls_server_hello *sh = &s->sh;
    char str[TLS_JA3_MAX], md5[33], hx[7];
    uint16_t v = tls_session_version(s);
    const char *proto = NULL, *vn = tls_version_name(v, &proto);
    if (vn != NULL) {
        ns_key_cstr(h, r, TLSK(TLS_VERSION), vn);
        ns_key_cstr(h, r, TLSK(TLS_VERSION_PROTOCOL), proto);
    }
    const char *cn = tls_cipher_name(sh->cipher);
    if (cn == NULL) {
        tls_hex16(hx, sh->cipher);
        cn = hx;
    }
    ns_key_cstr(h, r, TLSK(TLS_CIPHER), cn);
    if (sh->key_share_group != 0) {
        const char *g = tls_group_name(sh->key_share_group);
        if (g == NULL) {
            tls_hex16(hx, sh->key_share_group);
            g = hx;
        }
        ns_key_cstr(h, r, TLSK(TLS_CURVE), g);
    }
    if (sh->has_alpn)
        ns_key_str(h, r, TLSK(TLS_NEXT_PROTOCOL), sh->alpn, sh->alpn_len);
    size_t n = tls_ja3s(sh, str, sizeof(str), md5);
    ns_key_cstr(h, r, TLSK(TLS_SERVER_JA3S), md5);
    ns_key_str(h, r, TLSK(TLS_SERVER_JA3S_STRING), str, n);
    if (s->saw_hrr)
        ns_key_bool(h, r, TLSK(NETSCOPE_TLS_HELLO_RETRY), true);
    if (s->n_certs > 0) {
        tls_add_cert(c, r, &s->certs[0]);
        tls_add_chain(c, r, s);
    }
}

static void tls_count_errors(struct tls_ctx *c, uint32_t e)
{
    if (e & TLS_E_RECORD)
        ns_counter_inc(c->c_err_record);
    if (e & TLS_E_TOO_BIG)
        ns_counter_inc(c->c_err_big);
    if (e & TLS_E_HELLO)
        ns_counter_inc(c->c_err_hello);
    if (e & TLS_E_CERT)
        ns_counter_inc(c->c_err_cert);
    if (e & TLS_E_GAP)
        ns_counter_inc(c->c_err_gap);
    if (e & TLS_E_TRUNCATED)
        ns_counter_inc(c->c_err_cut);
}

/* Emit the flow's record (once) and drop its parser state. */
static void tls_report(struct tls_ctx *c, struct ns_app_flow *f, struct tls_flow *tf, uint64_t ts)
{
    struct tls_session *s = tf->s;
    if (tf->reported || s == NULL)
        return;
    tf->reported = true;
    if (s->have_ch && s->ch.sni_len > 0 && tf->sni == NULL) {
        /* Up to the first NUL (a name may carry one; the flow record has
         * always shown the C string). */
        size_t n = strlen(s->ch.sni);
        tf->sni = n < sizeof(tf->sni_in) ? tf->sni_in : malloc(n + 1);
        if (tf->sni != NULL) {
            memcpy(tf->sni, s->ch.sni, n + 1);
            tf->sni_len = n;
        }
    }
    tls_count_errors(c, s->errors);
    if (c->cache != NULL) {
        uint64_t hits, misses;
        tls_x509_cache_stats(c->cache, &hits, &misses);
        ns_gauge_set(c->g_cache_hits, hits);
        ns_gauge_set(c->g_cache_misses, misses);
    }
    if (s->have_ch || s->have_sh) {
        struct ns_record *r = ns_app_rec_new(c->ins, NS_REC_TLS, ts, c->c_rec_fail);
        if (r != NULL) {
            /* source is the TLS client, whichever side the flow decoder saw first. */
            ns_app_rec_endpoints(c->h, r, f, tf->swap, "tls");
            ns_key_time(c->h, r, TLSK(EVENT_START), f->first_ts);
            if (s->have_ch)
                tls_add_client(c, r, s);
            if (s->have_sh)
                tls_add_server(c, r, s);
            ns_key_bool(c->h, r, TLSK(TLS_ESTABLISHED), tls_session_established(s));
            ns_key_bool(c->h, r, TLSK(TLS_RESUMED), tls_session_resumed(s));
            c->h->emit(c->ins, r);
            ns_counter_inc(c->c_records);
        }
    }
    tls_session_free(s);
    ns_app_pool_put(&c->sessions, s);
    tf->s = NULL;
}

/* ---- app callbacks ---------------------------------------------------------- */

/* app_data's work; the caller has set the digest context (tls_digest_ctx). */
static int tls_data(void *ctx, struct ns_app_flow *f, enum ns_app_dir dir, const uint8_t *data,
                    size_t len, uint64_t ts_ns, uint64_t gap)
{
    struct tls_ctx *c = ctx;
    struct tls_flow *tf = f->state;
    if (tf == NULL || tf->s == NULL)
        return NS_DECLINED;
    int sdir = (dir == NS_APP_TO_CLIENT) != tf->swap ? 1 : 0;
    enum tls_state st = tls_session_feed(tf->s, sdir, data, len, gap);
    if (st == TLS_ST_READY) {
        tls_report(c, f, tf, ts_ns);
        return NS_DECLINED; /* the rest is ciphertext */
    }
    if (tf->s->dir[0].dead && tf->s->dir[1].dead) {
        tls_report(c, f, tf, ts_ns);
        return NS_DECLINED;
    }
    return NS_OK;
}

/* Each callback that may hash (JA3/JA4, certificate keys) lends the
 * instance's digest context to tls_parse for its duration: a context per
 * digest (EVP_Digest) cost as much as the hashing. */
static int tls_app_data(void *ctx, struct ns_app_flow *f, enum ns_app_dir dir, const uint8_t *data,
                        size_t len, uint64_t ts_ns, uint64_t gap)
{
    struct tls_ctx *c = ctx;
    tls_digest_ctx(c->mdctx);
    int rc = tls_data(ctx, f, dir, data, len, ts_ns, gap);
    tls_digest_ctx(NULL);
    return rc;
}

static int tls_app_probe(void *ctx, struct ns_app_flow *f, enum ns_app_dir dir, const uint8_t *data,
                         size_t len, uint64_t ts_ns)
{
    struct tls_ctx *c = ctx;
    if (f->transport != 6 || !tls_probe(data, len))
        return NS_DECLINED;
    struct tls_flow *tf = ns_app_pool_get(&c->flows);
    struct tls_session *s = ns_app_pool_get(&c->sessions);
    if (tf == NULL || s == NULL) {
        ns_app_pool_put(&c->flows, tf);
        ns_app_pool_put(&c->sessions, s);
        ns_counter_inc(c->c_alloc_fail);
        return NS_DECLINED;
    }
    memset(tf, 0, offsetof(struct tls_flow, sni_in));
    tls_session_init(s, (uint32_t)c->cfg.max_handshake, (uint32_t)c->cfg.max_certificates);
    s->cache = c->cache;
    tf->s = s;
    /* Roles from content: a ClientHello travelling to the initiator, or a
     * ServerHello from it, means the flow decoder took the server for the
     * initiator (the capture missed the SYN). */
    if (len >= 6)
        tf->swap = (data[5] == 1) == (dir == NS_APP_TO_CLIENT);
    f->state = tf;
    ns_counter_inc(c->c_flows);
    ns_gauge_set(c->g_active, ++c->active);
    (void)tls_app_data(ctx, f, dir, data, len, ts_ns, 0);
    return NS_OK;
}

static void tls_app_annotate(void *ctx, struct ns_app_flow *f, struct ns_record *flow_rec)
{
    struct tls_ctx *c = ctx;
    struct tls_flow *tf = f->state;
    if (tf == NULL)
        return;
    ns_key_cstr(c->h, flow_rec, TLSK(NETWORK_PROTOCOL), "tls");
    if (tf->sni != NULL)
        ns_key_str(c->h, flow_rec, TLSK(TLS_CLIENT_SERVER_NAME), tf->sni, tf->sni_len);
    else if (tf->s != NULL && tf->s->have_ch && tf->s->ch.sni_len > 0)
        ns_key_str(c->h, flow_rec, TLSK(TLS_CLIENT_SERVER_NAME), tf->s->ch.sni, tf->s->ch.sni_len);
}

static void tls_app_close(void *ctx, struct ns_app_flow *f, uint64_t ts_ns)
{
    struct tls_ctx *c = ctx;
    struct tls_flow *tf = f->state;
    if (tf == NULL)
        return;
    tls_digest_ctx(c->mdctx);
    tls_report(c, f, tf, ts_ns);
    tls_digest_ctx(NULL);
    if (tf->sni != tf->sni_in)
        free(tf->sni);
    ns_app_pool_put(&c->flows, tf);
    f->state = NULL;
    if (c->active > 0)
        c->active--;
    ns_gauge_set(c->g_active, c->active);
}

/* ---- lifecycle ---------------------------------------------------------------- */

static int tls_init(struct ns_instance *ins, const void *config, void **ctx)
{
    struct tls_ctx *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return -ENOMEM;
    c->ins = ins;
    c->h = ins->host;
    ns_keys_ready(c->h, tls_keys, TLSK_N, &tls_keys_ready);
    ns_app_pool_init(&c->flows, sizeof(struct tls_flow), TLS_FLOW_FREE_MAX);
    ns_app_pool_init(&c->sessions, sizeof(struct tls_session), TLS_SESS_FREE_MAX);
    c->mdctx = EVP_MD_CTX_new(); /* NULL: tls_digest falls back to EVP_Digest */
    memcpy(&c->cfg, config, sizeof(c->cfg));
    if (c->cfg.max_handshake < 1024)
        c->cfg.max_handshake = 1024;
    if (c->cfg.max_certificates < 1 || c->cfg.max_certificates > TLS_MAX_CERTS)
        c->cfg.max_certificates = TLS_MAX_CERTS;
    const struct ns_host *h = c->h;
    c->c_flows = h->counter(ins, "tls_flows_total", NULL, "Flows claimed as TLS");
    c->c_records = h->counter(ins, "tls_records_total", NULL, "netscope.tls records emitted");
    c->c_rec_fail = h->counter(ins, "record_failures_total", NULL, "Records not allocated");
    c->c_alloc_fail = h->counter(ins, "alloc_failures_total", NULL, "Flow states not allocated");
    c->g_active = h->gauge(ins, "tls_flows_active", NULL, "TLS flows with state held");
    static const char help[] = "Handshakes with a parse problem, by reason";
    c->c_err_record = h->counter(ins, "parse_errors_total", "reason=\"bad_record\"", help);
    c->c_err_big = h->counter(ins, "parse_errors_total", "reason=\"too_big\"", help);
    c->c_err_hello = h->counter(ins, "parse_errors_total", "reason=\"bad_hello\"", help);
    c->c_err_cert = h->counter(ins, "parse_errors_total", "reason=\"bad_certificate\"", help);
    c->c_err_gap = h->counter(ins, "parse_errors_total", "reason=\"gap\"", help);
    c->c_err_cut = h->counter(ins, "parse_errors_total", "reason=\"truncated_list\"", help);
    c->g_cache_hits = h->gauge(ins, "certificate_cache_hits", NULL,
                               "Certificates found already parsed (since start)");
    c->g_cache_misses = h->gauge(ins, "certificate_cache_misses", NULL,
                                 "Certificates parsed with OpenSSL (since start)");
    if (c->cfg.certificate_cache > 0) {
        c->cache = tls_x509_cache_new((uint32_t)c->cfg.certificate_cache);
        if (c->cache == NULL)
            ns_log_warn(ins, "no memory for the certificate cache: parsing every certificate");
    }
    *ctx = c;
    return 0;
}

static void tls_destroy(void *ctx)
{
    struct tls_ctx *c = ctx;
    ns_app_pool_drain(&c->flows);
    ns_app_pool_drain(&c->sessions);
    EVP_MD_CTX_free(c->mdctx);
    tls_x509_cache_free(c->cache);
    free(c);
}

NS_PLUGIN_DEFINE(.kind = NS_KIND_DECODER, .name = "tls", .version = "0.1.0",
                 .summary = "TLS handshakes: SNI, versions, ciphers, ALPN, JA3/JA3S/JA4, "
                            "server certificates",
                 .options = tls_options, .config_size = sizeof(struct tls_config),
                 .flags = NS_PLUGIN_APP, .init = tls_init, .destroy = tls_destroy,
                 .app_probe = tls_app_probe, .app_data = tls_app_data,
                 .app_annotate = tls_app_annotate, .app_close = tls_app_close);
