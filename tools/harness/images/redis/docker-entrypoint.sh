#!/bin/sh
# Like the official redis image's entrypoint: `docker run redis --port 7000` means `redis-server --port 7000`; as
# root, /data is handed to the redis user and the server runs as redis (setpriv instead of gosu).
set -eu
if [ "${1#-}" != "$1" ] || [ "${1%.conf}" != "$1" ]; then
  set -- redis-server "$@"
fi
if [ "$1" = redis-server ]; then
  # Debian's binary starts in protected mode (refuses clients from other hosts without a password); the official
  # image's binary defaults it to off. Same default here unless the command line sets it.
  case " $* " in
    *" --protected-mode "*) ;;
    *) set -- "$@" --protected-mode no ;;
  esac
  if [ "$(id -u)" = 0 ]; then
    find . \! -user redis -exec chown redis '{}' +
    umask 0077
    exec setpriv --reuid=redis --regid=redis --init-groups "$@"
  fi
fi
exec "$@"
