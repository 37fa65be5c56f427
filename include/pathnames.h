/*
 * pathnames.h: default paths of bgserviced and bgservice.
 */
#ifndef PATHNAMES_H
#define PATHNAMES_H

#ifndef BGS_PATH_CONFIG
#define BGS_PATH_CONFIG "/etc/bgserviced.conf"
#endif
#define BGS_PATH_PIDFILE "/var/run/bgserviced.pid"
#ifndef BGS_PATH_CLIENT_CONFIG
#define BGS_PATH_CLIENT_CONFIG "/etc/bgservice.conf"
#endif
#define BGS_PATH_DEVNULL "/dev/null"
#define BGS_PATH_SYSLOG	 "/dev/log"
/* Where the log goes when syslog cannot be reached. */
#ifndef BGS_PATH_LOG
#define BGS_PATH_LOG "/var/log/bgserviced.log"
#endif

#endif /* PATHNAMES_H */
