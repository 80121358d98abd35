/* null-responder.c - the benchmark's ceiling: a UDP "DNS server" that does no DNS work at all.
 *
 *   null-responder ADDR PORT
 *
 * Reads queries in batches of 64 with recvmmsg and sends every one back with QR=1 and RCODE=3
 * (NXDOMAIN), everything else untouched, with sendmmsg. Drops packets shorter than a DNS header and
 * packets that are already responses. One thread; SIGTERM or SIGINT stops it. IPv4 only. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define BATCH 64
#define PKT_MAX 4096

static volatile sig_atomic_t stop;
static void on_signal(int sig) { (void)sig; stop = 1; }

int main(int argc, char **argv)
{
    static unsigned char buf[BATCH][PKT_MAX];
    static struct sockaddr_in peer[BATCH];
    static struct iovec iov[BATCH];
    static struct mmsghdr rx[BATCH], tx[BATCH];
    struct sockaddr_in sa = { .sin_family = AF_INET };
    char *end;
    long port = argc == 3 ? strtol(argv[2], &end, 10) : 0;
    if (argc != 3 || *end || port < 1 || port > 65535 || inet_pton(AF_INET, argv[1], &sa.sin_addr) != 1) {
        fprintf(stderr, "usage: null-responder IPV4ADDR PORT\n");
        return 2;
    }
    sa.sin_port = htons((unsigned short)port);
    /* no SA_RESTART: a signal interrupts the blocking recvmmsg, which then returns EINTR */
    struct sigaction act = { .sa_handler = on_signal };
    sigaction(SIGTERM, &act, NULL);
    sigaction(SIGINT, &act, NULL);
    int one = 1, size = 4 << 20, fd = socket(AF_INET, SOCK_DGRAM, 0);
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
        perror("null-responder: bind");
        return 1;
    }
    while (!stop) {
        for (int i = 0; i < BATCH; i++) {
            iov[i] = (struct iovec){ buf[i], PKT_MAX };
            rx[i].msg_hdr = (struct msghdr){ .msg_name = &peer[i], .msg_namelen = sizeof peer[i],
                                             .msg_iov = &iov[i], .msg_iovlen = 1 };
        }
        int n = recvmmsg(fd, rx, BATCH, MSG_WAITFORONE, NULL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            perror("null-responder: recvmmsg");
            return 1;
        }
        int nout = 0;
        for (int i = 0; i < n; i++) {
            unsigned char *p = buf[i];
            if (rx[i].msg_len < 12 || (p[2] & 0x80))
                continue;
            p[2] |= 0x80;                          /* QR */
            p[3] = (unsigned char)((p[3] & 0xf0) | 3); /* RCODE NXDOMAIN */
            iov[i].iov_len = rx[i].msg_len;
            tx[nout].msg_hdr = (struct msghdr){ .msg_name = &peer[i], .msg_namelen = rx[i].msg_hdr.msg_namelen,
                                                .msg_iov = &iov[i], .msg_iovlen = 1 };
            nout++;
        }
        for (int sent = 0, tries = 0; sent < nout && tries < 4; tries++) {
            int rc = sendmmsg(fd, tx + sent, (unsigned)(nout - sent), 0);
            if (rc < 0 && errno != EINTR)
                break;
            sent += rc > 0 ? rc : 0;
        }
    }
    close(fd);
    return 0;
}
