/* ctl_cmds.h - dnsblctl's commands, called by dnsblctl.c's dispatch. Each returns an exit code
 * (ctl.h: 0, EXIT_NOTFOUND, EXIT_USAGE, EXIT_STORE). */
#ifndef DNSBL_CTL_CMDS_H
#define DNSBL_CTL_CMDS_H

#include <stddef.h>

struct ctl;

/* ctl_write.c */
int cmd_add(struct ctl *c, const char *zone, const char *entry);
int cmd_delist(struct ctl *c, const char *zone, const char *entry);
int cmd_unallow(struct ctl *c, const char *zone, const char *entry);
int cmd_import(struct ctl *c, const char *zone, const char *file);
int cmd_purge(struct ctl *c, const char *zone);
int cmd_expire(struct ctl *c);
int cmd_domestic(struct ctl *c, const char *zone, const char *account, int on);
int history_open(struct ctl *c, char *err, size_t errlen);

/* ctl_read.c */
int cmd_list(struct ctl *c, const char *zone);
int cmd_show(struct ctl *c, const char *entry);
int cmd_top(struct ctl *c);
int cmd_stats(struct ctl *c);
int cmd_history(struct ctl *c, const char *entry);

/* ctl_export.c */
int cmd_export(struct ctl *c, const char *zone, const char *file);

#endif
