/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tls_parse.h - pure TLS handshake parsing for decoder/tls (no core headers).
 *
 * Called by tls.c (the plugin, on its worker thread), by the unit tests and by
 * the fuzz target. A struct tls_session follows one TCP connection: the caller
 * feeds each direction's bytes in stream order with tls_session_feed(); the
 * session reassembles records, then handshake messages (split across records
 * and segments, several per record), parses ClientHello, ServerHello and the
 * clear-text Certificate message (TLS <= 1.2, with OpenSSL), and says when the
 * handshake is complete enough to report. Every buffer is bounded: a
 * handshake message larger than `max_msg` makes that direction give up
 * (counted in the session's error bits), never grows memory further.
 *
 * Fingerprints: JA3/JA3S (MD5, GREASE removed) and the BSD-licensed JA4 client
 * fingerprint only (no JA4S/JA4H/JA4X: their licence restricts use).
 */
#ifndef NS_TLS_PARSE_H
#define NS_TLS_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#define TLS_MAX_CIPHERS 256
#define TLS_MAX_EXTS 96
#define TLS_MAX_GROUPS 64
#define TLS_MAX_FORMATS 16
#define TLS_MAX_SIGALGS 64
#define TLS_MAX_VERSIONS 16
#define TLS_MAX_ALPN 8
#define TLS_ALPN_LEN 64 /* longer protocol ids are cut (first one kept whole for JA4) */
#define TLS_MAX_SNI 255
#define TLS_MAX_CERTS 8
#define TLS_MAX_SANS 64

/* Parse error bits (struct tls_session.errors). */
#define TLS_E_RECORD (1u << 0)    /* record header not TLS (bad type/version/length) */
#define TLS_E_TOO_BIG (1u << 1)   /* handshake message over max_msg                   */
#define TLS_E_HELLO (1u << 2)     /* ClientHello/ServerHello malformed                */
#define TLS_E_CERT (1u << 3)      /* Certificate message or a certificate malformed   */
#define TLS_E_GAP (1u << 4)       /* bytes lost in the stream: direction abandoned    */
#define TLS_E_TRUNCATED (1u << 5) /* more items than we keep (lists cut)              */

struct tls_client_hello {
    uint16_t legacy_version;
    uint16_t ciphers[TLS_MAX_CIPHERS];
    uint16_t exts[TLS_MAX_EXTS];
    uint16_t groups[TLS_MAX_GROUPS];
    uint16_t sigalgs[TLS_MAX_SIGALGS];
    uint16_t versions[TLS_MAX_VERSIONS];
    uint8_t formats[TLS_MAX_FORMATS];
    /* Kept entries (n_*) and, for JA4, how many the message had (total_*). */
    uint16_t n_ciphers, n_exts, n_groups, n_sigalgs, n_versions, n_formats;
    uint32_t total_ciphers, total_exts;
    bool has_sni, has_alpn;
    uint8_t sni_len;
    char sni[TLS_MAX_SNI + 1];
    uint8_t n_alpn;
    uint8_t alpn_len[TLS_MAX_ALPN];
    char alpn[TLS_MAX_ALPN][TLS_ALPN_LEN + 1];
    uint8_t alpn0_first, alpn0_last; /* first and last byte of the first ALPN value */
    uint8_t sid_len;
    uint8_t sid[32];
};

struct tls_server_hello {
    uint16_t legacy_version;
    uint16_t cipher;
    uint16_t selected_version; /* supported_versions extension, 0 = absent */
    uint16_t key_share_group;  /* TLS 1.3 key_share, 0 = absent            */
    uint16_t exts[TLS_MAX_EXTS];
    uint16_t n_exts;
    bool has_alpn, has_psk, hrr;
    uint8_t alpn_len;
    char alpn[TLS_ALPN_LEN + 1];
    uint8_t sid_len;
    uint8_t sid[32];
};

struct tls_x509_cache;

/* One certificate, as OpenSSL parsed it. Strings are malloc'd (NULL = absent). */
struct tls_x509 {
    char *subject, *issuer;        /* full DN, "C=US, O=..., CN=..."       */
    char *subject_cn, *issuer_cn;  /* last CN, or NULL                     */
    char *serial;                  /* upper-case hex of the DER integer    */
    int64_t not_before, not_after; /* seconds since the epoch             */
    bool has_validity;
    char sha256[65]; /* upper-case hex of the DER            */
    uint16_t n_san_dns, n_san_ip;
    char **san_dns; /* TLS_MAX_SANS slots, allocated on the first name */
    char **san_ip;
    void *block; /* a copy (from the cache): every string and list above is in
                    this one allocation, read-only; NULL: each is malloc'd */
};

/* Per-direction stream state: record header, then record body. */
struct tls_dir {
    uint8_t hdr[5];
    uint8_t hdr_have;
    uint8_t rec_type;
    uint32_t rec_left; /* body bytes of the current record still to come */
    uint8_t *msg;      /* handshake bytes being assembled                 */
    uint32_t msg_len, msg_cap;
    bool encrypted; /* after ChangeCipherSpec / TLS 1.3 keys: skip     */
    bool dead;      /* gave up on this direction                       */
    bool saw_ccs, saw_appdata, saw_alert;
    uint32_t records;
};

enum tls_state {
    TLS_ST_HELLO = 0, /* waiting for hellos                           */
    TLS_ST_READY,     /* enough seen: report now                      */
    TLS_ST_REPORTED,  /* caller reported (tls_session_reported)       */
};

struct tls_session {
    struct tls_dir dir[2];        /* 0 = client to server, 1 = server to client */
    uint32_t max_msg;             /* largest handshake message assembled          */
    uint32_t max_certs;           /* certificates kept from the chain             */
    struct tls_x509_cache *cache; /* parsed certificates by hash, or NULL  */
    uint32_t errors;              /* TLS_E_* seen                                 */
    enum tls_state state;
    bool have_ch, have_sh, have_cert, cert_seen_before_ccs;
    bool server_ccs_first; /* server CCS before the client's: abbreviated  */
    bool saw_hrr;          /* a HelloRetryRequest came before the ServerHello */
    struct tls_client_hello ch;
    struct tls_server_hello sh;
    uint32_t n_certs;       /* parsed certificates (chain order)            */
    uint32_t total_certs;   /* certificates in the message                  */
    struct tls_x509 *certs; /* max_certs slots, allocated on the Certificate */
};

/* Prepare a session. max_msg bounds one handshake message (>= 1 KiB is
 * sensible; certificate chains are usually under 16 KiB), max_certs the number
 * of certificates parsed (<= TLS_MAX_CERTS). */
void tls_session_init(struct tls_session *s, uint32_t max_msg, uint32_t max_certs);

/* Free everything the session holds (buffers, certificates); it may be
 * initialised again afterwards. */
void tls_session_free(struct tls_session *s);

/* Feed `len` bytes of direction `dir` (0 client->server, 1 server->client) in
 * stream order. `gap` > 0 says bytes were lost before them: that direction is
 * abandoned (TLS_E_GAP). Returns the session state after the bytes. Never
 * reads outside data[0..len). */
enum tls_state tls_session_feed(struct tls_session *s, int dir, const uint8_t *data, size_t len,
                                uint64_t gap);

/* True when the handshake finished (both sides switched to encryption). */
bool tls_session_established(const struct tls_session *s);
/* True when the session was resumed (abbreviated 1.2 handshake or 1.3 PSK). */
bool tls_session_resumed(const struct tls_session *s);

/* The negotiated version (selected_version, else the ServerHello's, else the
 * ClientHello's highest), 0 when unknown. */
uint16_t tls_session_version(const struct tls_session *s);

/* Does this look like the start of a TLS stream (record header of a
 * handshake with a ClientHello or ServerHello)? `len` may be short: a
 * 5-byte plausible header is enough. */
bool tls_probe(const uint8_t *data, size_t len);

/* Parse a ClientHello / ServerHello body (after the 4-byte handshake header).
 * Return 0 or -1 when malformed (fields parsed so far stay). */
int tls_parse_client_hello(const uint8_t *p, size_t len, struct tls_client_hello *ch, bool *cut);
int tls_parse_server_hello(const uint8_t *p, size_t len, struct tls_server_hello *sh, bool *cut);

/* Parse one DER certificate with OpenSSL. Return 0 or -1; free with
 * tls_x509_free. */
int tls_x509_parse(const uint8_t *der, size_t len, struct tls_x509 *x);
void tls_x509_free(struct tls_x509 *x);

/* A small LRU of parsed certificates keyed by the SHA-256 of their DER, for
 * one thread. OpenSSL 3's d2i_X509 costs ~0.2 ms per certificate (public-key
 * decoding goes through its provider framework) while a server presents the
 * same chain to every client: a hit is a hash and a copy. Set it in
 * tls_session.cache after tls_session_init. Returns NULL on allocation
 * failure; cap 0 is not allowed. */
struct tls_x509_cache *tls_x509_cache_new(uint32_t cap);
void tls_x509_cache_free(struct tls_x509_cache *c);
/* Like tls_x509_parse, through the cache (c may be NULL). */
int tls_x509_parse_cached(struct tls_x509_cache *c, const uint8_t *der, size_t len,
                          struct tls_x509 *x);
/* Lookups that hit / missed since creation. */
void tls_x509_cache_stats(const struct tls_x509_cache *c, uint64_t *hits, uint64_t *misses);

/* libcrypto digests fetched once per process (an implicit fetch per call
 * costs microseconds in OpenSSL 3). name: "MD5" or "SHA256". */
const EVP_MD *tls_md(int which);
#define TLS_MD_MD5 0
#define TLS_MD_SHA256 1

/* The md digest of p[0..n) into out (EVP_MAX_MD_SIZE bytes); *olen its length,
 * 0 on failure. Uses the calling thread's context set by tls_digest_ctx, else
 * EVP_Digest (which allocates, initialises and frees a context per call: about
 * half the cost of hashing a ClientHello's strings). */
void tls_digest(const EVP_MD *md, const void *p, size_t n, uint8_t *out, unsigned *olen);

/* Make c (owned by the caller, e.g. one per decoder instance; NULL = none) the
 * context tls_digest reuses on the calling thread. Set it before each batch of
 * calls that may hash (the plugin does at every app callback), and never leave
 * a freed context set on a thread that will hash again. */
void tls_digest_ctx(EVP_MD_CTX *c);

/* GREASE values (RFC 8701): 0x0a0a, 0x1a1a, ... 0xfafa. */
static inline bool tls_is_grease(uint16_t v)
{
    return (v & 0x0f0f) == 0x0a0a && (v >> 8) == (v & 0xff);
}

/* JA3 / JA3S strings and their MD5 (32 hex chars + NUL). The string buffer
 * needs at most TLS_JA3_MAX bytes. Return the string length. */
#define TLS_JA3_MAX 4096
size_t tls_ja3(const struct tls_client_hello *ch, char *str, size_t cap, char md5[33]);
size_t tls_ja3s(const struct tls_server_hello *sh, char *str, size_t cap, char md5[33]);

/* JA4 (client) for TCP ('t') or QUIC ('q'): "t13d1516h2_8daaf6152771_e5627efa2ab1". */
#define TLS_JA4_LEN 36
void tls_ja4(const struct tls_client_hello *ch, char proto, char out[TLS_JA4_LEN + 1]);

/* "1.2", "1.3", "1.0", "1.1", "3.0" (version_protocol "ssl") or NULL. */
const char *tls_version_name(uint16_t v, const char **protocol);

/* IANA name of a cipher suite, or NULL when not in our table. */
const char *tls_cipher_name(uint16_t id);
/* Name of a TLS supported group (curve), or NULL. */
const char *tls_group_name(uint16_t id);

#endif
