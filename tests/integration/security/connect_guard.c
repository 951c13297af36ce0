/* LD_PRELOAD shim for the no-outbound-traffic test: every connect() to an address outside
 * 127.0.0.0/8 and ::1 is written to $CALLPIPE_CONNECT_LOG and refused (ECONNREFUSED). It sits
 * under Python's socket module AND under native code (librdkafka, onnxruntime, chdb), which a
 * Python audit hook would not see. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int (*real_connect)(int, const struct sockaddr *, socklen_t);

static int is_local(const struct sockaddr *addr) {
    if (addr->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)addr;
        return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
    }
    if (addr->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)addr;
        if (IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr)) return 1;
        if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) return in6->sin6_addr.s6_addr[12] == 127;
        return 0;
    }
    return 1; /* AF_UNIX, AF_NETLINK: not network traffic */
}

int connect(int fd, const struct sockaddr *addr, socklen_t len) {
    if (!real_connect) real_connect = (int (*)(int, const struct sockaddr *, socklen_t))dlsym(RTLD_NEXT, "connect");
    if (addr && !is_local(addr)) {
        char host[INET6_ADDRSTRLEN] = "?";
        int port = 0;
        if (addr->sa_family == AF_INET) {
            inet_ntop(AF_INET, &((const struct sockaddr_in *)addr)->sin_addr, host, sizeof host);
            port = ntohs(((const struct sockaddr_in *)addr)->sin_port);
        } else {
            inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)addr)->sin6_addr, host, sizeof host);
            port = ntohs(((const struct sockaddr_in6 *)addr)->sin6_port);
        }
        const char *path = getenv("CALLPIPE_CONNECT_LOG");
        FILE *log = path ? fopen(path, "a") : NULL;
        if (log) {
            fprintf(log, "%d %s %d\n", (int)getpid(), host, port);
            fclose(log);
        }
        errno = ECONNREFUSED;
        return -1;
    }
    return real_connect(fd, addr, len);
}
