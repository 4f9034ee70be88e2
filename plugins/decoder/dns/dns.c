/* SPDX-License-Identifier: Apache-2.0 */
/*
 * dns.c - decoder/dns: DNS over UDP and TCP as an application decoder
 * (NS_PLUGIN_APP) hosted by decoder/flow.
 *
 * decoder/flow calls app_probe/app_data/app_annotate/app_close on its worker
 * thread (the same thread as tick and flush here) with each UDP datagram, or
 * the reassembled TCP stream (2-byte length prefix, several messages per
 * segment or one split across segments). Messages are parsed by the pure code
 * in dns_parse.c. A query waits in a per-flow list (and one FIFO per instance,
 * for the timeout) until a response with the same id (and question) on the
 * same flow arrives: then one netscope.dns record is emitted for the
 * transaction, with the response time. Unanswered queries are emitted after
 * `query_timeout`, when the flow ends, or when the pending bound is hit.
 * Options, fields and counters: README.md.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "netscope/netscope.h"

#include "dns_parse.h"
#include "ns_app_glue.h"
#ifdef NS_HAVE_LIBPSL
#include "dns_domain.h"
#endif

#define DNS_FLOW_MAX_PENDING 64 /* pending queries per flow               */
#define DNS_TCP_BAD_LIMIT 3     /* malformed messages in a row: give up  */
#define DNS_Q_POOL_NAME 192     /* pooled query: room for name text + wire */
#define DNS_FLOW_QNAME_IN 64    /* the flow's first name kept inline up to */
#define DNS_FREE_MAX 4096       /* spare queries kept                      */
#define DNS_FLOW_CHUNK 64       /* flow states allocated at a time         */

/* A string literal with its length (no strlen in the data path). */
#define REC_LIT(h, r, k, lit) (h)->rec_add_str((r), (k), (lit), sizeof(lit) - 1)

struct dns_config {
    uint64_t query_timeout;
    uint64_t max_pending;
};

struct dns_flow;

/* A query waiting for its response. */
struct dns_q {
    struct dns_q *fnext, *fprev; /* the flow's list (arrival order)  */
    struct dns_q *gnext, *gprev; /* the instance FIFO (arrival order) */
    struct dns_flow *fl;
    uint64_t ts;
    uint16_t id, flags, qtype, qclass;
    uint8_t opcode;
    bool edns_do;
    bool rev;      /* sent by the flow's responder (the capture missed the start) */
    bool pooled;   /* allocated with DNS_Q_POOL_NAME bytes of name: reusable */
    uint16_t qlen; /* strlen(qname) */
    uint16_t wlen; /* the question name's wire bytes after the text (0: none) */
    char qname[];  /* text, NUL-terminated; then wlen wire bytes */
};

/* Per-flow state (ns_app_flow.state). */
struct dns_flow {
    struct ns_app_state link; /* first: in dns_ctx.flows (for destroy) */
    struct dns_q *qhead, *qtail;
    uint32_t nq;
    uint8_t *buf[2]; /* TCP: a message split across segments */
    uint32_t blen[2];
    uint32_t bad; /* malformed messages in a row */
    char *qname;  /* first question seen, for the flow record: qname_in or malloc'd */
    uint16_t qtype, qlen;
    char qname_in[DNS_FLOW_QNAME_IN];
};

enum dns_mal { MAL_SHORT = 0, MAL_TRUNC, MAL_LOOP, MAL_LONG, MAL_LABEL, MAL_TCP_LEN, MAL_COUNT };

struct dns_ctx {
    struct ns_instance *ins;
    const struct ns_host *h;
    struct dns_config cfg;
    struct dns_msg *msg; /* scratch: one parsed message */
    struct dns_q *ghead, *gtail;
    uint64_t npending;
    struct ns_app_state *flows; /* every live dns_flow */
    /* Per-flow states carved from chunks, and spare pooled queries: a DNS
     * flow is often one query and its response, so calloc/free per flow and
     * per query would be a large part of its cost. UDP flows mostly live
     * until the flow table expires them in bulk (or flushes them at the
     * end), so a bounded spare list of states would be empty at creation
     * and overflow at the end: the states are chunked instead (memory: the
     * peak number of live DNS flows, bounded by the flow table). */
    struct ns_app_pool fpool;
    struct dns_q *qfree;
    uint32_t nqfree;
#ifdef NS_HAVE_LIBPSL
    const psl_ctx_t *psl;            /* libpsl's built-in list (static; not freed) */
    struct dns_domain_cache *dcache; /* memo of name splits (NULL: none)          */
#endif
    ns_counter *c_msgs, *c_queries, *c_responses, *c_trans, *c_unanswered, *c_unsolicited;
    ns_counter *c_mal[MAL_COUNT], *c_overflow, *c_gaps, *c_alloc, *c_declined, *g_pending;
    ns_counter *c_rec_fail;
};

/* Record keys, interned at init (plugins/common/ns_rec_keys.h). */
enum dns_key_id {
    DNSK_DNS_HEADER_FLAGS,
    DNSK_DNS_QUESTION_REGISTERED_DOMAIN,
    DNSK_DNS_QUESTION_TOP_LEVEL_DOMAIN,
    DNSK_DNS_QUESTION_SUBDOMAIN,
    DNSK_EVENT_ACTION,
    DNSK_EVENT_START,
    DNSK_EVENT_END,
    DNSK_EVENT_DURATION,
    DNSK_DNS_ID,
    DNSK_DNS_OP_CODE,
    DNSK_DNS_RESPONSE_CODE,
    DNSK_DNS_QUESTION_NAME,
    DNSK_DNS_ANSWERS,
    DNSK_NAME,
    DNSK_TTL,
    DNSK_DATA,
    DNSK_DNS_RESOLVED_IP,
    DNSK_NETSCOPE_DNS_ANSWER_COUNT,
    DNSK_NETSCOPE_DNS_AUTHORITY_COUNT,
    DNSK_NETSCOPE_DNS_ADDITIONAL_COUNT,
    DNSK_NETSCOPE_DNS_ANSWERS_TRUNCATED,
    DNSK_NETSCOPE_DNS_MALFORMED,
    DNSK_NETSCOPE_DNS_RESPONSE_TIME_NS,
    DNSK_DNS_TYPE,
    DNSK_NETWORK_PROTOCOL,
    DNSK_DNS_QUESTION_TYPE,
    DNSK_TYPE,
    DNSK_DNS_QUESTION_CLASS,
    DNSK_CLASS,
    DNSK_N
};
static struct ns_key dns_keys[DNSK_N] = {
    [DNSK_DNS_HEADER_FLAGS] = {"dns.header_flags", 0},
    [DNSK_DNS_QUESTION_REGISTERED_DOMAIN] = {"dns.question.registered_domain", 0},
    [DNSK_DNS_QUESTION_TOP_LEVEL_DOMAIN] = {"dns.question.top_level_domain", 0},
    [DNSK_DNS_QUESTION_SUBDOMAIN] = {"dns.question.subdomain", 0},
    [DNSK_EVENT_ACTION] = {"event.action", 0},
    [DNSK_EVENT_START] = {"event.start", 0},
    [DNSK_EVENT_END] = {"event.end", 0},
    [DNSK_EVENT_DURATION] = {"event.duration", 0},
    [DNSK_DNS_ID] = {"dns.id", 0},
    [DNSK_DNS_OP_CODE] = {"dns.op_code", 0},
    [DNSK_DNS_RESPONSE_CODE] = {"dns.response_code", 0},
    [DNSK_DNS_QUESTION_NAME] = {"dns.question.name", 0},
    [DNSK_DNS_ANSWERS] = {"dns.answers", 0},
    [DNSK_NAME] = {"name", 0},
    [DNSK_TTL] = {"ttl", 0},
    [DNSK_DATA] = {"data", 0},
    [DNSK_DNS_RESOLVED_IP] = {"dns.resolved_ip", 0},
    [DNSK_NETSCOPE_DNS_ANSWER_COUNT] = {"netscope.dns.answer_count", 0},
    [DNSK_NETSCOPE_DNS_AUTHORITY_COUNT] = {"netscope.dns.authority_count", 0},
    [DNSK_NETSCOPE_DNS_ADDITIONAL_COUNT] = {"netscope.dns.additional_count", 0},
    [DNSK_NETSCOPE_DNS_ANSWERS_TRUNCATED] = {"netscope.dns.answers_truncated", 0},
    [DNSK_NETSCOPE_DNS_MALFORMED] = {"netscope.dns.malformed", 0},
    [DNSK_NETSCOPE_DNS_RESPONSE_TIME_NS] = {"netscope.dns.response_time_ns", 0},
    [DNSK_DNS_TYPE] = {"dns.type", 0},
    [DNSK_NETWORK_PROTOCOL] = {"network.protocol", 0},
    [DNSK_DNS_QUESTION_TYPE] = {"dns.question.type", 0},
    [DNSK_TYPE] = {"type", 0},
    [DNSK_DNS_QUESTION_CLASS] = {"dns.question.class", 0},
    [DNSK_CLASS] = {"class", 0},
};
static int dns_keys_ready;
#define DNSK(x) (&dns_keys[DNSK_##x])
#define REC_LIT_K(h, r, k, lit) ns_key_str((h), (r), (k), (lit), sizeof(lit) - 1)

/* ---- record ----------------------------------------------------------------- */

static void dns_add_type(struct dns_ctx *c, struct ns_record *r, const struct ns_key *key,
                         uint16_t t)
{
    const char *n = dns_type_name(t);
    char tmp[16];
    if (n == NULL) {
        snprintf(tmp, sizeof(tmp), "TYPE%u", t);
        n = tmp;
    }
    ns_key_cstr(c->h, r, key, n);
}

static void dns_add_class(struct dns_ctx *c, struct ns_record *r, const struct ns_key *key,
                          uint16_t cl)
{
    const char *n = dns_class_name(cl);
    char tmp[16];
    if (n == NULL) {
        snprintf(tmp, sizeof(tmp), "CLASS%u", cl);
        n = tmp;
    }
    ns_key_cstr(c->h, r, key, n);
}

static void dns_add_flags(struct dns_ctx *c, struct ns_record *r, uint16_t flags, bool edns_do)
{
    static const struct {
        uint16_t bit;
        const char name[3];
    } fl[] = {{DNS_F_AA, "AA"}, {DNS_F_TC, "TC"}, {DNS_F_RD, "RD"},
              {DNS_F_RA, "RA"}, {DNS_F_AD, "AD"}, {DNS_F_CD, "CD"}};
    ns_key_array(c->h, r, DNSK(DNS_HEADER_FLAGS));
    for (size_t i = 0; i < sizeof(fl) / sizeof(fl[0]); i++)
        if (flags & fl[i].bit)
            c->h->rec_add_str(r, NULL, fl[i].name, 2);
    if (edns_do)
        REC_LIT(c->h, r, NULL, "DO");
    c->h->rec_end(r);
}

/* dns.question.registered_domain, .top_level_domain and .subdomain of the
 * question name (Public Suffix List; nothing without libpsl, for the root or
 * a malformed name). */
static void dns_add_domain(struct dns_ctx *c, struct ns_record *r, const char *name, size_t len)
{
#ifdef NS_HAVE_LIBPSL
    char buf[DNS_DOMAIN_MAX];
    struct dns_domain d;
    if (!dns_domain_split_cached(c->psl, c->dcache, name, len, buf, sizeof(buf), &d))
        return;
    const struct ns_host *h = c->h;
    if (d.has_reg)
        ns_key_str(h, r, DNSK(DNS_QUESTION_REGISTERED_DOMAIN), buf + d.reg, d.len - d.reg);
    ns_key_str(h, r, DNSK(DNS_QUESTION_TOP_LEVEL_DOMAIN), buf + d.tld, d.len - d.tld);
    if (d.has_reg && d.reg > 0)
        ns_key_str(h, r, DNSK(DNS_QUESTION_SUBDOMAIN), buf, d.reg - 1);
#else
    (void)c;
    (void)r;
    (void)name;
    (void)len;
#endif
}

/*
 * One netscope.dns record. q: the query (NULL for a response seen without
 * it); m: the parsed response (NULL for an unanswered query).
 */
static void dns_emit(struct dns_ctx *c, const struct ns_app_flow *af, const struct dns_q *q,
                     const struct dns_msg *m, uint64_t resp_ts, const char *action, bool rev)
{
    const struct ns_host *h = c->h;
    uint64_t ts = q != NULL ? q->ts : resp_ts;
    struct ns_record *r = ns_app_rec_new(c->ins, NS_REC_DNS, ts, c->c_rec_fail);
    if (r == NULL)
        return;
    ns_key_cstr(h, r, DNSK(EVENT_ACTION), action);
    ns_key_time(h, r, DNSK(EVENT_START), ts);
    if (m != NULL) {
        ns_key_time(h, r, DNSK(EVENT_END), resp_ts);
        if (q != NULL)
            ns_key_uint(h, r, DNSK(EVENT_DURATION), resp_ts >= q->ts ? resp_ts - q->ts : 0);
    }
    /* source is the DNS client: the flow's initiator, unless the capture
     * began with the server's side (rev). */
    ns_app_rec_endpoints(h, r, af, rev, "dns");

    uint16_t id = q != NULL ? q->id : m->id;
    uint8_t opcode = q != NULL ? q->opcode : m->opcode;
    ns_key_uint(h, r, DNSK(DNS_ID), id);
    const char *op = dns_opcode_name(opcode);
    char tmp[16];
    if (op == NULL) {
        snprintf(tmp, sizeof(tmp), "%u", opcode);
        op = tmp;
    }
    ns_key_cstr(h, r, DNSK(DNS_OP_CODE), op);
    if (m != NULL)
        REC_LIT_K(h, r, DNSK(DNS_TYPE), "answer");
    else
        REC_LIT_K(h, r, DNSK(DNS_TYPE), "query");
    if (m != NULL)
        dns_add_flags(c, r, m->flags, m->edns_do);
    else
        dns_add_flags(c, r, q->flags, q->edns_do);
    if (m != NULL) {
        const char *rc = dns_rcode_name(m->rcode);
        if (rc == NULL) {
            snprintf(tmp, sizeof(tmp), "RCODE%u", m->rcode);
            rc = tmp;
        }
        ns_key_cstr(h, r, DNSK(DNS_RESPONSE_CODE), rc);
    }
    /* The question: the query's (the response echoes it). */
    if (q != NULL) {
        ns_key_str(h, r, DNSK(DNS_QUESTION_NAME), q->qname, q->qlen);
        dns_add_type(c, r, DNSK(DNS_QUESTION_TYPE), q->qtype);
        dns_add_class(c, r, DNSK(DNS_QUESTION_CLASS), q->qclass);
        dns_add_domain(c, r, q->qname, q->qlen);
    } else if (m->has_question) {
        ns_key_str(h, r, DNSK(DNS_QUESTION_NAME), m->qname, m->qname_len);
        dns_add_type(c, r, DNSK(DNS_QUESTION_TYPE), m->qtype);
        dns_add_class(c, r, DNSK(DNS_QUESTION_CLASS), m->qclass);
        dns_add_domain(c, r, m->qname, m->qname_len);
    }
    if (m != NULL) {
        if (m->nanswers > 0) {
            ns_key_array(h, r, DNSK(DNS_ANSWERS));
            for (uint16_t i = 0; i < m->nanswers; i++) {
                const struct dns_rr *rr = &m->an[i];
                h->rec_begin_object(r, NULL);
                ns_key_str(h, r, DNSK(NAME), rr->name, rr->name_len);
                dns_add_type(c, r, DNSK(TYPE), rr->type);
                dns_add_class(c, r, DNSK(CLASS), rr->cls);
                ns_key_uint(h, r, DNSK(TTL), rr->ttl);
                if (rr->data_err == DNS_OK)
                    ns_key_str(h, r, DNSK(DATA), rr->data, rr->data_len);
                h->rec_end(r);
            }
            h->rec_end(r);
            bool any = false;
            for (uint16_t i = 0; i < m->nanswers; i++) {
                const struct dns_rr *rr = &m->an[i];
                if (rr->ip_len == 0)
                    continue;
                if (!any)
                    ns_key_array(h, r, DNSK(DNS_RESOLVED_IP));
                any = true;
                struct ns_ip ip = {.family = rr->ip_len == 4 ? 4 : 6};
                memcpy(ip.a, rr->ip, rr->ip_len);
                h->rec_add_ip(r, NULL, &ip);
            }
            if (any)
                h->rec_end(r);
        }
        ns_key_uint(h, r, DNSK(NETSCOPE_DNS_ANSWER_COUNT), m->ancount);
        ns_key_uint(h, r, DNSK(NETSCOPE_DNS_AUTHORITY_COUNT), m->nscount);
        ns_key_uint(h, r, DNSK(NETSCOPE_DNS_ADDITIONAL_COUNT), m->arcount);
        if (m->answers_cut)
            ns_key_bool(h, r, DNSK(NETSCOPE_DNS_ANSWERS_TRUNCATED), true);
        if (m->err != DNS_OK)
            ns_key_cstr(h, r, DNSK(NETSCOPE_DNS_MALFORMED), dns_err_name(m->err));
        else
            for (uint16_t i = 0; i < m->nanswers; i++)
                if (m->an[i].data_err != DNS_OK) {
                    ns_key_cstr(h, r, DNSK(NETSCOPE_DNS_MALFORMED),
                                dns_err_name(m->an[i].data_err));
                    break;
                }
        if (q != NULL)
            ns_key_uint(h, r, DNSK(NETSCOPE_DNS_RESPONSE_TIME_NS),
                        resp_ts >= q->ts ? resp_ts - q->ts : 0);
    }
    h->emit(c->ins, r);
}

/* ---- pending queries -------------------------------------------------------- */

static void q_unlink(struct dns_ctx *c, struct dns_q *q)
{
    struct dns_flow *fl = q->fl;
    if (q->fprev)
        q->fprev->fnext = q->fnext;
    else
        fl->qhead = q->fnext;
    if (q->fnext)
        q->fnext->fprev = q->fprev;
    else
        fl->qtail = q->fprev;
    fl->nq--;
    if (q->gprev)
        q->gprev->gnext = q->gnext;
    else
        c->ghead = q->gnext;
    if (q->gnext)
        q->gnext->gprev = q->gprev;
    else
        c->gtail = q->gprev;
    c->npending--;
}

/* Free an unlinked query (into the pool when it came from there). */
static void q_free(struct dns_ctx *c, struct dns_q *q)
{
    if (q->pooled && c->nqfree < DNS_FREE_MAX) {
        q->fnext = c->qfree;
        c->qfree = q;
        c->nqfree++;
        return;
    }
    free(q);
}

/* Emit q as unanswered and free it. */
static void q_expire(struct dns_ctx *c, struct dns_q *q, uint64_t now)
{
    dns_emit(c, q->fl->link.af, q, NULL, now, "dns_unanswered", q->rev);
    ns_counter_inc(c->c_unanswered);
    q_unlink(c, q);
    q_free(c, q);
}

static void q_add(struct dns_ctx *c, struct dns_flow *fl, const struct dns_msg *m,
                  const uint8_t *wire, uint64_t ts, bool rev)
{
    if (fl->nq >= DNS_FLOW_MAX_PENDING) {
        ns_counter_inc(c->c_overflow);
        q_expire(c, fl->qhead, ts);
    }
    if (c->npending >= c->cfg.max_pending && c->ghead != NULL) {
        ns_counter_inc(c->c_overflow);
        q_expire(c, c->ghead, ts);
    }
    size_t nl = m->qname_len, wl = m->qwire_len;
    struct dns_q *q;
    bool pooled = nl + 1 + wl <= DNS_Q_POOL_NAME;
    if (pooled && c->qfree != NULL) {
        q = c->qfree;
        c->qfree = q->fnext;
        c->nqfree--;
    } else {
        q = malloc(sizeof(*q) + (pooled ? DNS_Q_POOL_NAME : nl + 1 + wl));
        if (q == NULL) {
            ns_counter_inc(c->c_alloc);
            return;
        }
    }
    memset(q, 0, sizeof(*q));
    q->pooled = pooled;
    q->qlen = (uint16_t)nl;
    memcpy(q->qname, m->qname, nl + 1);
    /* The wire bytes, so the response's echo of the question is compared
     * rather than walked again (dns_parse_hint). */
    q->wlen = (uint16_t)wl;
    memcpy(q->qname + nl + 1, wire, wl);
    q->fl = fl;
    q->ts = ts;
    q->id = m->id;
    q->flags = m->flags;
    q->qtype = m->qtype;
    q->qclass = m->qclass;
    q->opcode = m->opcode;
    q->edns_do = m->edns_do;
    q->rev = rev;
    q->fprev = fl->qtail;
    if (fl->qtail)
        fl->qtail->fnext = q;
    else
        fl->qhead = q;
    fl->qtail = q;
    fl->nq++;
    q->gprev = c->gtail;
    if (c->gtail)
        c->gtail->gnext = q;
    else
        c->ghead = q;
    c->gtail = q;
    c->npending++;
}

/* The pending query a response answers: same id and, when both carry one,
 * the same question (case-insensitive, as DNS names compare). */
static struct dns_q *q_match(struct dns_flow *fl, const struct dns_msg *m)
{
    struct dns_q *idonly = NULL;
    for (struct dns_q *q = fl->qhead; q != NULL; q = q->fnext) {
        if (q->id != m->id)
            continue;
        if (!m->has_question || (q->qlen == m->qname_len && q->qtype == m->qtype &&
                                 strcasecmp(q->qname, m->qname) == 0))
            return q;
        if (idonly == NULL)
            idonly = q;
    }
    return idonly;
}

/* ---- messages --------------------------------------------------------------- */

static void dns_count_mal(struct dns_ctx *c, enum dns_err e)
{
    switch (e) {
    case DNS_ERR_SHORT:
        ns_counter_inc(c->c_mal[MAL_SHORT]);
        break;
    case DNS_ERR_TRUNCATED:
        ns_counter_inc(c->c_mal[MAL_TRUNC]);
        break;
    case DNS_ERR_NAME_LOOP:
        ns_counter_inc(c->c_mal[MAL_LOOP]);
        break;
    case DNS_ERR_NAME_TOO_LONG:
        ns_counter_inc(c->c_mal[MAL_LONG]);
        break;
    case DNS_ERR_BAD_LABEL:
        ns_counter_inc(c->c_mal[MAL_LABEL]);
        break;
    default:
        break;
    }
}

/* One DNS message of flow fl. Returns false when it was unusable. */
static bool dns_message(struct dns_ctx *c, struct dns_flow *fl, int dir, const uint8_t *d,
                        size_t len, uint64_t ts)
{
    struct dns_msg *m = c->msg;
    /* A response: the first pending query with its id lends its question
     * (wire and text) to the parse (the usual echo is then not walked). */
    struct dns_qhint hint, *hp = NULL;
    if (len >= DNS_HEADER_LEN && (d[2] & 0x80) != 0) {
        uint16_t id = (uint16_t)((d[0] << 8) | d[1]);
        for (struct dns_q *q = fl->qhead; q != NULL; q = q->fnext)
            if (q->id == id) {
                if (q->wlen > 0) {
                    hint = (struct dns_qhint){(const uint8_t *)q->qname + q->qlen + 1, q->wlen,
                                              q->qname, q->qlen};
                    hp = &hint;
                }
                break;
            }
    }
    enum dns_err e = dns_parse_hint(d, len, m, hp);
    ns_counter_inc(c->c_msgs);
    if (e != DNS_OK) {
        dns_count_mal(c, e);
        if (e == DNS_ERR_SHORT || !m->has_question)
            return false; /* nothing to report */
    }
    for (uint16_t i = 0; i < m->nanswers; i++)
        if (m->an[i].data_err != DNS_OK)
            dns_count_mal(c, m->an[i].data_err);
    if (fl->qname == NULL && m->has_question) {
        size_t nl = m->qname_len;
        fl->qname = nl < sizeof(fl->qname_in) ? fl->qname_in : malloc(nl + 1);
        if (fl->qname != NULL) {
            memcpy(fl->qname, m->qname, nl + 1);
            fl->qlen = (uint16_t)nl;
            fl->qtype = m->qtype;
        } else {
            ns_counter_inc(c->c_alloc);
        }
    }
    if (!m->qr) {
        ns_counter_inc(c->c_queries);
        if (m->has_question)
            q_add(c, fl, m, d + DNS_HEADER_LEN, ts, dir == NS_APP_TO_CLIENT);
        return true;
    }
    ns_counter_inc(c->c_responses);
    struct dns_q *q = q_match(fl, m);
    if (q != NULL) {
        dns_emit(c, fl->link.af, q, m, ts, "dns_transaction", q->rev);
        ns_counter_inc(c->c_trans);
        q_unlink(c, q);
        q_free(c, q);
    } else {
        dns_emit(c, fl->link.af, NULL, m, ts, "dns_unsolicited_response", dir == NS_APP_TO_SERVER);
        ns_counter_inc(c->c_unsolicited);
    }
    return true;
}

/* TCP: messages with a 2-byte length prefix, possibly split or batched. */
static int dns_tcp(struct dns_ctx *c, struct dns_flow *fl, int dir, const uint8_t *d, size_t len,
                   uint64_t ts)
{
    while (len > 0) {
        const uint8_t *msg;
        size_t mlen;
        if (fl->blen[dir] == 0 && len >= 2 && len - 2 >= (size_t)((d[0] << 8) | d[1])) {
            /* The whole message is in this delivery: parse it in place. */
            mlen = (size_t)((d[0] << 8) | d[1]);
            msg = d + 2;
            d += 2 + mlen;
            len -= 2 + mlen;
        } else {
            if (fl->buf[dir] == NULL) {
                fl->buf[dir] = malloc(65535 + 2);
                if (fl->buf[dir] == NULL) {
                    ns_counter_inc(c->c_alloc);
                    return NS_DECLINED;
                }
            }
            uint8_t *b = fl->buf[dir];
            uint32_t have = fl->blen[dir];
            size_t need = have < 2 ? 2 - have : (size_t)((b[0] << 8) | b[1]) + 2 - have;
            size_t take = need < len ? need : len;
            memcpy(b + have, d, take);
            fl->blen[dir] += (uint32_t)take;
            d += take;
            len -= take;
            if (fl->blen[dir] < 2)
                return NS_OK;
            mlen = (size_t)((b[0] << 8) | b[1]);
            if (fl->blen[dir] < mlen + 2)
                continue; /* header complete; the body follows */
            msg = b + 2;
            fl->blen[dir] = 0;
        }
        if (mlen < DNS_HEADER_LEN) {
            ns_counter_inc(c->c_mal[MAL_TCP_LEN]);
            fl->blen[dir] = 0;
            if (++fl->bad >= DNS_TCP_BAD_LIMIT)
                return NS_DECLINED;
            continue;
        }
        if (dns_message(c, fl, dir, msg, mlen, ts))
            fl->bad = 0;
        else if (++fl->bad >= DNS_TCP_BAD_LIMIT)
            return NS_DECLINED; /* lost framing: stop reading this stream */
    }
    return NS_OK;
}

/* ---- app callbacks ---------------------------------------------------------- */

static int dns_app_data(void *ctx, struct ns_app_flow *f, enum ns_app_dir dir, const uint8_t *data,
                        size_t len, uint64_t ts, uint64_t gap)
{
    struct dns_ctx *c = ctx;
    struct dns_flow *fl = f->state;
    if (fl == NULL)
        return NS_DECLINED;
    if (f->transport != 6) {
        dns_message(c, fl, dir == NS_APP_TO_CLIENT ? 1 : 0, data, len, ts);
        return NS_OK;
    }
    int d = dir == NS_APP_TO_CLIENT ? 1 : 0;
    if (gap > 0) {
        /* A message was cut: drop its start and hope the next byte starts
         * a length prefix (checked by the parser; repeated failure gives up). */
        ns_counter_inc(c->c_gaps);
        fl->blen[d] = 0;
    }
    int rc = dns_tcp(c, fl, d, data, len, ts);
    if (rc == NS_DECLINED)
        ns_counter_inc(c->c_declined);
    return rc;
}

static bool dns_port_hint(const struct ns_app_flow *f)
{
    static const uint16_t ports[] = {53, 5353, 5355};
    for (size_t i = 0; i < 3; i++)
        if (f->src_port == ports[i] || f->dst_port == ports[i])
            return true;
    return false;
}

static int dns_app_probe(void *ctx, struct ns_app_flow *f, enum ns_app_dir dir, const uint8_t *data,
                         size_t len, uint64_t ts)
{
    struct dns_ctx *c = ctx;
    bool hint = dns_port_hint(f);
    if (f->transport == 17) {
        if (!dns_probe(data, len, false, hint))
            return NS_DECLINED;
    } else if (f->transport == 6) {
        if (len < 2 + DNS_HEADER_LEN)
            return NS_DECLINED;
        size_t mlen = (size_t)((data[0] << 8) | data[1]);
        if (mlen < DNS_HEADER_LEN)
            return NS_DECLINED;
        bool partial = len - 2 < mlen;
        if (!dns_probe(data + 2, partial ? len - 2 : mlen, partial, hint))
            return NS_DECLINED;
    } else {
        return NS_DECLINED;
    }
    struct dns_flow *fl = ns_app_pool_get(&c->fpool);
    if (fl == NULL) {
        ns_counter_inc(c->c_alloc);
        return NS_DECLINED;
    }
    memset(fl, 0, offsetof(struct dns_flow, qname_in));
    ns_app_state_attach(&c->flows, &fl->link, f);
    /* The probed payload is ours to consume (it is not delivered again). */
    (void)dns_app_data(ctx, f, dir, data, len, ts, 0);
    return NS_OK;
}

static void dns_app_annotate(void *ctx, struct ns_app_flow *f, struct ns_record *rec)
{
    struct dns_ctx *c = ctx;
    struct dns_flow *fl = f->state;
    REC_LIT_K(c->h, rec, DNSK(NETWORK_PROTOCOL), "dns");
    if (fl != NULL && fl->qname != NULL) {
        ns_key_str(c->h, rec, DNSK(DNS_QUESTION_NAME), fl->qname, fl->qlen);
        dns_add_type(c, rec, DNSK(DNS_QUESTION_TYPE), fl->qtype);
    }
}

static void dns_flow_free(struct dns_ctx *c, struct dns_flow *fl)
{
    ns_app_state_unlink(&c->flows, &fl->link);
    free(fl->buf[0]);
    free(fl->buf[1]);
    if (fl->qname != fl->qname_in)
        free(fl->qname);
    ns_app_pool_put(&c->fpool, fl);
}

static void dns_app_close(void *ctx, struct ns_app_flow *f, uint64_t ts)
{
    struct dns_ctx *c = ctx;
    struct dns_flow *fl = f->state;
    if (fl == NULL)
        return;
    while (fl->qhead != NULL)
        q_expire(c, fl->qhead, ts);
    dns_flow_free(c, fl);
    f->state = NULL;
    ns_gauge_set(c->g_pending, c->npending);
}

/* ---- lifecycle -------------------------------------------------------------- */

static void dns_tick(void *ctx, uint64_t now)
{
    struct dns_ctx *c = ctx;
    if (c->cfg.query_timeout != 0)
        while (c->ghead != NULL && c->ghead->ts + c->cfg.query_timeout <= now)
            q_expire(c, c->ghead, now);
    ns_gauge_set(c->g_pending, c->npending);
}

static int dns_flush(void *ctx)
{
    struct dns_ctx *c = ctx;
    /* decoder/flow closed every flow before this (app_close); anything left
     * belongs to flows it never closed. */
    while (c->ghead != NULL)
        q_expire(c, c->ghead, c->ghead->ts);
    ns_gauge_set(c->g_pending, c->npending);
    return 0;
}

static void dns_destroy(void *ctx)
{
    struct dns_ctx *c = ctx;
    if (c == NULL)
        return;
    while (c->ghead != NULL) {
        struct dns_q *q = c->ghead;
        q_unlink(c, q);
        free(q);
    }
    struct ns_app_state *st;
    while ((st = ns_app_state_first(c->flows)) != NULL)
        dns_flow_free(c, (struct dns_flow *)st); /* link is its first member */
    ns_app_pool_drain(&c->fpool);                /* every state was put back just above */
    while (c->qfree != NULL) {
        struct dns_q *q = c->qfree;
        c->qfree = q->fnext;
        free(q);
    }
#ifdef NS_HAVE_LIBPSL
    free(c->dcache);
#endif
    free(c->msg);
    free(c);
}

static int dns_init(struct ns_instance *ins, const void *config, void **ctxp)
{
    struct dns_ctx *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return -ENOMEM;
    c->msg = malloc(sizeof(*c->msg));
    if (c->msg == NULL) {
        free(c);
        return -ENOMEM;
    }
    c->ins = ins;
    c->h = ins->host;
    ns_keys_ready(c->h, dns_keys, DNSK_N, &dns_keys_ready);
    ns_app_pool_init_chunked(&c->fpool, sizeof(struct dns_flow), DNS_FLOW_CHUNK);
#ifdef NS_HAVE_LIBPSL
    c->psl = psl_builtin(); /* NULL when libpsl was built without a list */
    if (c->psl != NULL)
        c->dcache = calloc(1, sizeof(*c->dcache)); /* NULL: split without a memo */
#endif
    memcpy(&c->cfg, config, sizeof(c->cfg));
    if (c->cfg.max_pending == 0)
        c->cfg.max_pending = 1;
    const struct ns_host *h = c->h;
    c->c_msgs = h->counter(ins, "messages_total", NULL, "DNS messages parsed");
    c->c_queries = h->counter(ins, "queries_total", NULL, "DNS queries seen");
    c->c_responses = h->counter(ins, "responses_total", NULL, "DNS responses seen");
    c->c_trans = h->counter(ins, "transactions_total", NULL,
                            "Query/response pairs matched (one record each)");
    c->c_unanswered = h->counter(ins, "unanswered_total", NULL,
                                 "Queries reported without a response (timeout, flow end, bound)");
    c->c_unsolicited = h->counter(ins, "unmatched_responses_total", NULL,
                                  "Responses whose query was not seen (reported alone)");
    static const char *const mal[MAL_COUNT] = {"short",         "truncated", "name_loop",
                                               "name_too_long", "bad_label", "tcp_length"};
    for (int i = 0; i < MAL_COUNT; i++) {
        char lab[48];
        snprintf(lab, sizeof(lab), "reason=\"%s\"", mal[i]);
        c->c_mal[i] =
            h->counter(ins, "malformed_total", lab, "Malformed DNS messages or records, by reason");
    }
    c->c_overflow = h->counter(ins, "pending_overflow_total", NULL,
                               "Queries reported early because a pending bound was hit");
    c->c_gaps = h->counter(ins, "stream_gaps_total", NULL, "Gaps in DNS-over-TCP streams");
    c->c_alloc = h->counter(ins, "alloc_failures_total", NULL, "Allocations that failed");
    c->c_declined = h->counter(ins, "tcp_streams_abandoned_total", NULL,
                               "DNS-over-TCP streams given up after repeated bad framing");
    c->g_pending = h->gauge(ins, "pending_queries", NULL, "Queries waiting for a response");
    c->c_rec_fail =
        h->counter(ins, "record_failures_total", NULL, "Records not built because rec_new failed");
    *ctxp = c;
    return 0;
}

#define OFF(f) offsetof(struct dns_config, f)
static const struct ns_option dns_options[] = {
    {.name = "query_timeout",
     .type = NS_OPT_DURATION,
     .def = "5s",
     .offset = OFF(query_timeout),
     .doc = "Report a query without a response after this long (packet time offline); 0 = only "
            "when its flow ends."},
    {.name = "max_pending",
     .type = NS_OPT_UINT,
     .def = "65536",
     .min = 1,
     .max = 16777216,
     .offset = OFF(max_pending),
     .doc = "Queries waiting for a response per worker; beyond it the oldest is reported "
            "unanswered (counted)."},
    NS_OPT_END,
};

NS_PLUGIN_DEFINE(.kind = NS_KIND_DECODER, .name = "dns", .version = "0.1.0",
                 .summary = "DNS over UDP and TCP: one netscope.dns record per transaction",
                 .flags = NS_PLUGIN_APP, .options = dns_options,
                 .config_size = sizeof(struct dns_config), .init = dns_init, .destroy = dns_destroy,
                 .tick = dns_tick, .flush = dns_flush, .app_probe = dns_app_probe,
                 .app_data = dns_app_data, .app_annotate = dns_app_annotate,
                 .app_close = dns_app_close);
