/* SPDX-License-Identifier: Apache-2.0 */
/*
 * dns_parse.h - DNS message parser for decoder/dns (RFC 1035 and friends).
 *
 * Pure code: no core headers, no allocation, no globals. dns_parse() turns one
 * DNS message (a UDP payload, or one length-prefixed message of a TCP stream)
 * into a struct dns_msg: header, first question, and the answer section with
 * each record's data rendered as text. Every read is bounded by the message;
 * compressed names may only point backwards (so they cannot loop) and may not
 * exceed 255 bytes on the wire. Called by the plugin on its worker thread, by
 * the unit tests and by the libFuzzer target (fuzz_dns).
 */
#ifndef NS_DNS_PARSE_H
#define NS_DNS_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DNS_HEADER_LEN 12
#define DNS_MAX_ANSWERS 32 /* answers kept per message; more are counted only */
#define DNS_NAME_TEXT 1024 /* a 255-byte name with every byte escaped (\DDD) */
#define DNS_DATA_TEXT 1024 /* rendered RDATA, cut (data_cut) beyond this    */

/* Why a message (or part of it) was not decoded. */
enum dns_err {
    DNS_OK = 0,
    DNS_ERR_SHORT,         /* shorter than the 12-byte header            */
    DNS_ERR_TRUNCATED,     /* a section ends past the message             */
    DNS_ERR_NAME_LOOP,     /* a compression pointer not pointing backwards */
    DNS_ERR_NAME_TOO_LONG, /* a name longer than 255 bytes                */
    DNS_ERR_BAD_LABEL,     /* label type 0x40/0x80 (extended/reserved)    */
    DNS_ERR_COUNT
};

struct dns_rr {
    char name[DNS_NAME_TEXT];
    uint16_t name_len; /* strlen(name)                             */
    uint16_t type, cls;
    uint32_t ttl;
    char data[DNS_DATA_TEXT]; /* "" when it could not be rendered      */
    uint16_t data_len;        /* strlen(data)                           */
    uint8_t ip[16];           /* A/AAAA address (ip_len 4 or 16)        */
    uint8_t ip_len;
    bool data_cut;         /* rendered text was cut at DNS_DATA_TEXT */
    enum dns_err data_err; /* RDATA malformed (name too long, ...)   */
};

struct dns_msg {
    uint16_t id, flags;
    uint8_t opcode, rcode; /* rcode: 4 header bits (+ EDNS extended bits) */
    bool qr;
    uint16_t qdcount, ancount, nscount, arcount;
    bool has_question;
    char qname[DNS_NAME_TEXT];
    uint16_t qname_len; /* strlen(qname)                               */
    uint16_t qtype, qclass;
    uint16_t qwire_len; /* the first question's name on the wire at offset
                         * DNS_HEADER_LEN, when it is labels only and parsed
                         * without error (else 0): see dns_parse_hint   */
    uint16_t nanswers;  /* answers kept in an[]                       */
    bool answers_cut;   /* ancount > DNS_MAX_ANSWERS                   */
    bool edns, edns_do; /* an OPT record was seen; its DO bit          */
    enum dns_err err;   /* first error; what was parsed before stays   */
    struct dns_rr an[DNS_MAX_ANSWERS];
};

/* Header flag bits (dns_msg.flags). */
#define DNS_F_QR 0x8000
#define DNS_F_AA 0x0400
#define DNS_F_TC 0x0200
#define DNS_F_RD 0x0100
#define DNS_F_RA 0x0080
#define DNS_F_Z 0x0040
#define DNS_F_AD 0x0020
#define DNS_F_CD 0x0010

/*
 * Parse the message buf[0..len). Fills *m (always initialised) and returns
 * DNS_OK, or the first error: on DNS_ERR_SHORT nothing is valid; otherwise the
 * header is, and whatever was parsed before the error (question, answers).
 */
enum dns_err dns_parse(const uint8_t *buf, size_t len, struct dns_msg *m);

/* A question name seen before: its wire bytes (labels only, as at offset
 * DNS_HEADER_LEN of that message: dns_msg.qwire_len) and the text they
 * parsed to. */
struct dns_qhint {
    const uint8_t *wire;
    size_t wlen;
    const char *text;
    size_t tlen;
};

/*
 * dns_parse, with `hint` (may be NULL): when the message's question name is
 * byte for byte hint->wire, its text is hint->text instead of a second walk
 * (a response echoes its query's question). Same results as dns_parse.
 */
enum dns_err dns_parse_hint(const uint8_t *buf, size_t len, struct dns_msg *m,
                            const struct dns_qhint *hint);

/*
 * Does buf[0..len) start like a DNS message? A header with a known opcode, the
 * Z bit clear, exactly one question whose name and type/class parse, a query
 * carrying no answers, and record counts that fit the bytes. `port_hint` (port
 * 53/5353/5355) also accepts messages without a question. With
 * `partial`, the message may continue beyond len (a TCP segment): only the
 * header and question must be present (with `port_hint`, the header alone
 * when the question is cut).
 */
bool dns_probe(const uint8_t *buf, size_t len, bool partial, bool port_hint);

/* Read the name at *off of msg[0..len) as text into out (size outsz, NUL-
 * terminated; the root is "."), advancing *off past it. */
enum dns_err dns_read_name(const uint8_t *msg, size_t len, size_t *off, char *out, size_t outsz);

/* Names of types ("AAAA"; NULL if unnamed: then use "TYPE<n>"), classes,
 * response codes ("NXDOMAIN"; NULL if unnamed), opcodes, errors. */
const char *dns_type_name(uint16_t type);
const char *dns_class_name(uint16_t cls);
const char *dns_rcode_name(uint16_t rcode);
const char *dns_opcode_name(uint8_t opcode);
const char *dns_err_name(enum dns_err e);

#endif
