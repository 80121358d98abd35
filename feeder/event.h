/* event.h - what the parsers extract from a log line: one event, with pointers into the line. */
#ifndef FEEDER_EVENT_H
#define FEEDER_EVENT_H

#include <stddef.h>
#include <stdint.h>

#include "addr.h"

enum event_type {
    EV_NONE,
    /* smtpd */
    EV_CONNECT,         /* connect from NAME[IP] */
    EV_DISCONNECT,      /* disconnect from NAME[IP] ... rcpt=OK/TOTAL: n1 = RCPTs accepted, n2 = all */
    EV_LOST,            /* lost connection after CMD */
    EV_TOO_MANY_ERRORS, /* too many errors after CMD */
    EV_RCPT_UNKNOWN,    /* reject: RCPT ... User unknown / unverified address */
    EV_RCPT_REJECT,     /* other RCPT rejects; n1 = SMTP code */
    EV_MAIL_REJECT,     /* MAIL, CONNECT, HELO, DATA rejects; n1 = SMTP code */
    EV_CLIENT,          /* QID: client=NAME[IP][, sasl_username=USER] */
    EV_AUTH_FAIL,       /* SASL or IMAP/POP3 failures; n1 = attempts; user may be empty */
    EV_AUTH_ERROR,      /* "Connection lost to authentication server": not the client's fault */
    /* qmgr, bounce */
    EV_QUEUED,          /* QID: from=<SENDER>, size=, nrcpt=N: n1 = nrcpt; domain empty for <> */
    EV_REMOVED,         /* QID: removed */
    EV_NDR_SENT,        /* QID: sender non-delivery notification: NEWQID */
    EV_BOUNCED,         /* QID: to=<...> ... status=bounced */
    /* postscreen */
    EV_PS_CONNECT, EV_PS_PASS, EV_PS_PREGREET, EV_PS_HANGUP, EV_PS_DNSBL,
    /* dovecot, and smtpd's client= with sasl_username */
    EV_LOGIN,           /* successful login of user from IP */
    /* abnormal sessions (issue 9): smtpd */
    EV_SMTP_TIMEOUT,    /* timeout after CMD (not EV_TIMEOUT: libevent has that name) */
    EV_PIPELINING,      /* improper command pipelining after CMD */
    /* ... and postscreen, each "from [IP]:PORT": n2 = PORT, n1 = the seconds logged after "after" */
    EV_PS_DISCONNECT,   /* DISCONNECT [IP]:PORT: postscreen ended the connection (not handed to smtpd) */
    EV_PS_PIPELINING, EV_PS_NON_SMTP, EV_PS_BARE_NEWLINE, EV_PS_TIME_LIMIT, EV_PS_COUNT_LIMIT,
    EV_TYPES
};

struct event {
    enum event_type type;
    int has_ip;
    struct ipaddr ip;
    const char *qid;            /* queue ID, or NULL */
    size_t qid_len;
    const char *user;           /* account name, or NULL */
    size_t user_len;
    const char *sender;         /* envelope sender address (without <>) for EV_QUEUED */
    size_t sender_len;
    uint32_t n1, n2;
    uint32_t data_ok;           /* EV_DISCONNECT: DATA commands that succeeded (messages accepted) */
};

struct logline;

/* Fills ev from a Postfix or Dovecot line; returns ev->type (EV_NONE: not recognised). */
enum event_type parse_event(const struct logline *l, struct event *ev);
enum event_type parse_postfix(const char *service, size_t service_len, const char *msg, size_t len,
                              struct event *ev);
enum event_type parse_dovecot(const char *msg, size_t len, struct event *ev);
const char *event_type_name(enum event_type t);

/* helpers shared by the parsers (parse_util.c); the dispatcher above is parse.c */
const char *parse_find(const char *hay, size_t n, const char *needle);
int parse_bracket_ip(const char *p, size_t n, struct ipaddr *out);     /* "NAME[IP]" or "[IP]" */
int parse_ip_token(const char *p, size_t n, struct ipaddr *out);       /* up to ',' ' ' ']' */
int parse_ip_exact(const char *p, size_t n, struct ipaddr *out);       /* all n bytes an address */
/* "NAME[IP]", "NAME[IP]:PORT" or "NAME[IP]:" exactly n bytes long: the address in the last brackets */
int parse_client_token(const char *p, size_t n, struct ipaddr *out);
/* p is just after the '<' of a logged address: the offset of its closing '>' (n if none), reading a
 * quoted local part ("x>y"@example.org) as one unit the way Postfix writes it */
size_t address_end(const char *p, size_t n);

#endif
