#!/usr/bin/env bash
# scripts/services.sh — install (only what is missing) and run the real services
# sintgate's integration tests talk to, each on loopback, on a non-default port,
# with a private data dir under $REPO/.services/.
#
#   scripts/services.sh up     [svc...]   install what is missing, start (idempotent)
#   scripts/services.sh down   [--purge] [svc...]  stop what this script started
#   scripts/services.sh env    [svc...]   print `export NAME=value` lines for tests
#   scripts/services.sh status [svc...]   print whether each service answers
#   scripts/services.sh pydeps            install the Python SDK's test packages (apt) when missing
#
# Services: pg redis ros mqtt chromium openapi mcppeer opcua fastdds (default: all);
# openapi is the OpenAPI linter (npm, tools/openapi); mcppeer the hostile MCP
# servers of the MCP bridge's tests (npm, bridges/mcpbridge/testdata/peer);
# opcua the node-opcua test PLC of bridges/opcuabridge (npm; its tests start
# it themselves); fastdds the DDS packages (Cyclone DDS for the ROS 2
# bridge, Fast DDS + fastddsgen) and the Fast DDS peer of its tests, built
# from bridges/ros2bridge/testdata/fastdds into $SVC_DIR/fastdds (rebuilt
# only when its sources or the toolchain change). Aliases: postgres,
# mosquitto, rosmaster, browser, redocly, mcp, node-opcua, dds, ros2,
# fastdds-peer. Default ports 55432, 56379, 51311, 51883; a
# port another process holds (another clone's services) makes `up` take the
# next free one and say so, and `env` prints it. SINT_PG_PORT,
# SINT_REDIS_PORT, SINT_ROS_PORT, SINT_MQTT_PORT ask for a port explicitly.
#
# Use from a shell:  scripts/services.sh up && eval "$(scripts/services.sh env)"
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SVC_DIR="${SINT_SERVICES_DIR:-$REPO/.services}"

# Each service's port: SINT_<SVC>_PORT when set (it must then be free or this
# clone's own instance), else the port this clone's instance was started on
# (recorded in $SVC_DIR/ports/<svc>), else the default. A default or
# recorded port that another process holds (another clone's services, say)
# is not an error: `up` takes the next free port, records it and says so,
# and `env` prints it. Instances are never shared between clones: a second
# clone's tests must not see the first one's data.
PORT_DIR="$SVC_DIR/ports"
port_for() { # SVC ENV_VALUE DEFAULT
	local r=""
	[ -n "$2" ] && { echo "$2"; return; }
	r="$(cat "$PORT_DIR/$1" 2>/dev/null || true)"
	if [ -n "$r" ]; then echo "$r"; else echo "$3"; fi
}
PG_PORT="$(port_for pg "${SINT_PG_PORT:-}" 55432)"
REDIS_PORT="$(port_for redis "${SINT_REDIS_PORT:-}" 56379)"
ROS_PORT="$(port_for ros "${SINT_ROS_PORT:-}" 51311)"
MQTT_PORT="$(port_for mqtt "${SINT_MQTT_PORT:-}" 51883)"
PG_USER=sint
PG_DB=sint_test
PG_BIN="${SINT_PG_BIN:-/usr/lib/postgresql/15/bin}"
CHROMIUM=/usr/bin/chromium
SYS_PY=/usr/bin/python3
ALL_SERVICES=(pg redis ros mqtt chromium openapi mcppeer opcua fastdds)

log() { printf 'services: %s\n' "$*" >&2; }
die() { printf 'services: error: %s\n' "$*" >&2; exit 1; }

# now_ms prints a monotonic-enough wall clock in milliseconds (for timings).
now_ms() { date +%s%3N; }

is_root() { [ "$(id -u)" -eq 0 ]; }

# port_open HOST PORT: true when something accepts TCP connections there.
port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

# choose_port SVC VAR ENV_NAME: called by <svc>_up when this clone's instance
# is not running. Keeps the port in VAR if it is free; else, unless ENV_NAME
# asked for that port explicitly, moves VAR to the next free port and says
# so. Records the port for `env` and later runs.
choose_port() {
	local svc="$1" var="$2" envname="$3" want p
	want="${!var}"
	p="$want"
	if port_open 127.0.0.1 "$p"; then
		[ -n "${!envname:-}" ] && die "port $p is taken by another process ($envname=$p asks for it; unset it to let $svc take a free port)"
		while port_open 127.0.0.1 "$p"; do
			p=$((p + 1))
			[ "$p" -gt $((want + 200)) ] && die "no free port in $want..$((want + 200)) for $svc"
		done
		log "$svc: port $want is taken by another process (another clone's services?); using $p"
		printf -v "$var" '%s' "$p"
	fi
	mkdir -p "$PORT_DIR"
	echo "$p" >"$PORT_DIR/$svc"
}

# wait_for SECONDS CMD...: poll CMD every 0.1 s until it succeeds.
wait_for() {
	local limit=$(($1 * 10)) i=0
	shift
	until "$@" >/dev/null 2>&1; do
		i=$((i + 1))
		[ "$i" -ge "$limit" ] && return 1
		sleep 0.1
	done
}

normalize() {
	case "$1" in
	pg | postgres | postgresql) echo pg ;;
	redis) echo redis ;;
	ros | rosmaster) echo ros ;;
	mqtt | mosquitto) echo mqtt ;;
	chromium | browser | playwright) echo chromium ;;
	openapi | redocly) echo openapi ;;
	mcppeer | mcp) echo mcppeer ;;
	opcua | node-opcua) echo opcua ;;
	fastdds | fastdds-peer | dds | ros2) echo fastdds ;;
	*) die "unknown service '$1' (known: ${ALL_SERVICES[*]})" ;;
	esac
}

# ---------------------------------------------------------------- install ---

# Debian packages each service needs.
pkgs_for() {
	case "$1" in
	pg) [ -x "$PG_BIN/postgres" ] || echo postgresql-15 ;;
	redis) echo redis-server redis-tools ;;
	ros) echo python3-rosmaster python3-rostopic python3-rosnode python3-rosgraph python3-rospy \
		python3-geometry-msgs python3-std-msgs python3-sensor-msgs python3-trajectory-msgs ;;
	mqtt) echo mosquitto mosquitto-clients ;;
	chromium) echo chromium ;;
	mcppeer) command -v npm >/dev/null || echo nodejs npm ;;
	fastdds)
		echo cyclonedds-dev cyclonedds-tools libfastrtps-dev libfastcdr-dev fastddsgen nlohmann-json3-dev
		# fastddsgen is a Java program whose package does not pull a runtime.
		command -v java >/dev/null || echo default-jre-headless
		command -v g++ >/dev/null || echo g++
		command -v make >/dev/null || echo make
		;;
	esac
}

# missing_pkgs PKG...: prints the packages dpkg does not have installed.
missing_pkgs() {
	[ $# -eq 0 ] && return 0
	local installed
	installed="$(dpkg-query -W -f='${Package} ${Status}\n' "$@" 2>/dev/null |
		awk '$NF == "installed" && $(NF-1) == "ok" {print $1}')" || true
	local p
	for p in "$@"; do
		grep -qxF "$p" <<<"$installed" || echo "$p"
	done
}

apt_lists_present() {
	compgen -G '/var/lib/apt/lists/*_Packages' >/dev/null ||
		compgen -G '/var/lib/apt/lists/*_Packages.*' >/dev/null
}

# apt_install PKG...: one combined, quiet install; `apt-get update` only when
# the package lists are absent or the install fails on stale lists.
apt_install() {
	[ $# -eq 0 ] && return 0
	is_root || die "missing packages ($*) and not root: install them with apt-get"
	local added_policy=""
	# Keep Debian's maintainer scripts from starting system-wide daemons
	# (redis on 6379, mosquitto on 1883): we run our own private instances.
	if [ ! -e /usr/sbin/policy-rc.d ]; then
		printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
		chmod +x /usr/sbin/policy-rc.d
		added_policy=1
	fi
	local t0 rc=0
	t0=$(now_ms)
	export DEBIAN_FRONTEND=noninteractive
	if ! apt_lists_present; then
		log "apt-get update"
		apt-get update -qq >/dev/null
	fi
	log "apt-get install $*"
	if ! apt-get install -y -qq --no-install-recommends "$@" >"$SVC_DIR/apt.log" 2>&1; then
		log "install failed; refreshing package lists and retrying"
		apt-get update -qq >/dev/null
		apt-get install -y -qq --no-install-recommends "$@" >"$SVC_DIR/apt.log" 2>&1 || rc=$?
	fi
	[ -n "$added_policy" ] && rm -f /usr/sbin/policy-rc.d
	[ "$rc" -eq 0 ] || { tail -n 30 "$SVC_DIR/apt.log" >&2; die "apt-get install failed (log: $SVC_DIR/apt.log)"; }
	log "installed in $(($(now_ms) - t0)) ms"
}

# npm_install DIR MODULE: installs DIR's node modules from its package.json
# and committed package-lock.json (npm ci) unless node_modules/MODULE is
# already there and newer than both. node_modules is never committed.
npm_install() {
	local dir="$1" module="$2"
	[ -f "$dir/package.json" ] || return 0
	local stamp="$dir/node_modules/.package-lock.json"
	if [ -d "$dir/node_modules/$module" ] && [ "$stamp" -nt "$dir/package.json" ] &&
		{ [ ! -f "$dir/package-lock.json" ] || [ ! "$dir/package-lock.json" -nt "$stamp" ]; }; then
		return 0
	fi
	command -v npm >/dev/null || die "npm is needed for ${dir#"$REPO"/} (apt-get install nodejs npm)"
	log "npm install in ${dir#"$REPO"/}"
	(
		cd "$dir"
		export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm_config_fund=false npm_config_audit=false
		if [ -f package-lock.json ]; then
			npm ci --no-progress --loglevel=error
		else
			npm install --no-progress --loglevel=error
		fi
		[ -d "node_modules/$module" ] ||
			npm install --no-save --no-progress --loglevel=error "$module"
	) >&2
}

# npm_install_e2e installs dashboard/e2e's node modules (playwright-core among
# them). Playwright never downloads a browser: tests launch /usr/bin/chromium
# through executablePath.
npm_install_e2e() { npm_install "$REPO/dashboard/e2e" playwright-core; }

# --------------------------------------------------------------- python SDK ---

# Debian packages of sdk/python's test suite (make test-sdk-python): the SDK
# uses only the standard library and python3-cryptography; pytest runs it, and
# python3-jwt (PyJWT) checks attestations and checkpoints independently of it.
PY_SDK_PKGS=(python3-cryptography python3-pytest python3-jwt)

cmd_pydeps() {
	local missing
	missing="$(missing_pkgs "${PY_SDK_PKGS[@]}")"
	# shellcheck disable=SC2086
	[ -z "$missing" ] || apt_install $missing
	"$SYS_PY" -c 'import cryptography, pytest, jwt' ||
		die "$SYS_PY cannot import cryptography, pytest and jwt (apt-get install ${PY_SDK_PKGS[*]})"
}

# ------------------------------------------------------------- postgresql ---

# pg_base is where the cluster lives: $SVC_DIR/pg, or, when the server's user
# cannot reach that directory (a clone under a private home, say), a directory
# under /tmp named after the repository path. PG_BASE caches the choice.
PG_BASE=""
pg_base() {
	if [ -z "$PG_BASE" ]; then
		PG_BASE="$SVC_DIR/pg"
		local u
		u="$(pg_runuser)"
		# Judge by the nearest existing ancestor: .services may not exist yet.
		local d="$SVC_DIR"
		while [ ! -e "$d" ]; do d="$(dirname "$d")"; done
		if [ -n "$u" ] && ! runuser -u "$u" -- test -x "$d" 2>/dev/null; then
			PG_BASE="/tmp/sintgate-pg-$(printf '%s' "$SVC_DIR" | md5sum | cut -c1-12)"
		fi
		# Unix socket paths are limited to 107 bytes.
		if [ ${#PG_BASE} -gt 70 ]; then
			PG_BASE="/tmp/sintgate-pg-$(printf '%s' "$SVC_DIR" | md5sum | cut -c1-12)"
		fi
	fi
	echo "$PG_BASE"
}
pg_data() { echo "$(pg_base)/data"; }
pg_sock() { echo "$(pg_base)/sock"; }

# The server refuses to run as root: as root we run it as the `postgres` user
# (present wherever the Debian packages are), else as a dedicated system user.
pg_runuser() {
	if ! is_root; then
		echo ""
		return
	fi
	if ! getent passwd postgres >/dev/null; then
		getent passwd sintsvc >/dev/null || useradd --system --no-create-home --shell /usr/sbin/nologin sintsvc
		echo sintsvc
		return
	fi
	echo postgres
}

as_pg() {
	local u
	u="$(pg_runuser)"
	if [ -n "$u" ]; then
		runuser -u "$u" -- "$@"
	else
		"$@"
	fi
}

pg_running() { as_pg "$PG_BIN/pg_ctl" -D "$(pg_data)" status >/dev/null 2>&1; }

pg_up() {
	local data sock u base
	data="$(pg_data)"
	sock="$(pg_sock)"
	if [ -f "$data/PG_VERSION" ] && pg_running; then
		return 0
	fi
	choose_port pg PG_PORT SINT_PG_PORT
	u="$(pg_runuser)"
	base="$(pg_base)"
	mkdir -p "$base" "$sock"
	if [ -n "$u" ]; then
		chown -R "$u" "$base"
		chmod 700 "$base"
		# The service user must be able to reach its directory.
		as_pg test -w "$base" || die "user $u cannot write $base (a parent directory is not searchable); set SINT_SERVICES_DIR"
	fi
	if [ ! -f "$data/PG_VERSION" ]; then
		as_pg "$PG_BIN/initdb" -D "$data" -U "$PG_USER" --auth=trust -E UTF8 --locale=C.UTF-8 >"$base/initdb.log" 2>&1 ||
			as_pg "$PG_BIN/initdb" -D "$data" -U "$PG_USER" --auth=trust -E UTF8 --locale=C >"$base/initdb.log" 2>&1 ||
			{ cat "$base/initdb.log" >&2; die "initdb failed"; }
		cat >>"$data/postgresql.conf" <<EOF

# --- sintgate test cluster (scripts/services.sh) ---
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '$sock'
max_connections = 300
shared_buffers = 64MB
# Test data is disposable: trade crash safety for speed.
fsync = off
synchronous_commit = off
full_page_writes = off
logging_collector = off
EOF
	fi
	as_pg "$PG_BIN/pg_ctl" -D "$data" -l "$base/postgres.log" -w -t 30 \
		-o "-p $PG_PORT -k $sock" start >/dev/null 8>&- 9>&- ||
		{ tail -n 20 "$base/postgres.log" >&2; die "postgres did not start"; }
	if ! as_pg psql -h "$sock" -p "$PG_PORT" -U "$PG_USER" -d postgres -tAc \
		"SELECT 1 FROM pg_database WHERE datname = '$PG_DB'" | grep -q 1; then
		as_pg psql -h "$sock" -p "$PG_PORT" -U "$PG_USER" -d postgres -qc "CREATE DATABASE $PG_DB" >/dev/null
	fi
}

pg_down() {
	[ -f "$(pg_data)/PG_VERSION" ] || return 0
	pg_running || return 0
	as_pg "$PG_BIN/pg_ctl" -D "$(pg_data)" -m fast -w stop >/dev/null
}

pg_status() { pg_running && as_pg "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT"; }

pg_env() { echo "export SINT_TEST_PG_URL='postgres://$PG_USER@127.0.0.1:$PG_PORT/$PG_DB?sslmode=disable'"; }

# ------------------------------------------------------------------ redis ---

redis_pid() { cat "$SVC_DIR/redis/redis.pid" 2>/dev/null || true; }
pid_alive() { [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null; }

redis_ping() { [ "$(redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null)" = PONG ]; }

redis_up() {
	if pid_alive "$(redis_pid)" && redis_ping; then
		return 0
	fi
	choose_port redis REDIS_PORT SINT_REDIS_PORT
	mkdir -p "$SVC_DIR/redis"
	redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --protected-mode yes \
		--daemonize yes --pidfile "$SVC_DIR/redis/redis.pid" \
		--dir "$SVC_DIR/redis" --logfile "$SVC_DIR/redis/redis.log" \
		--save '' --appendonly no --maxclients 2000 >/dev/null 8>&- 9>&-
	wait_for 10 redis_ping || { tail -n 20 "$SVC_DIR/redis/redis.log" >&2; die "redis did not start"; }
}

redis_down() {
	local pid
	pid="$(redis_pid)"
	pid_alive "$pid" || return 0
	redis-cli -h 127.0.0.1 -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || kill "$pid" 2>/dev/null || true
	wait_for 10 bash -c "! kill -0 $pid" || kill -9 "$pid" 2>/dev/null || true
	rm -f "$SVC_DIR/redis/redis.pid"
}

redis_status() { redis_ping; }

redis_env() { echo "export SINT_TEST_REDIS_ADDR=127.0.0.1:$REDIS_PORT"; }

# ---------------------------------------------------------------- ros ---

ros_uri() { echo "http://127.0.0.1:$ROS_PORT/"; }
ros_pid() { cat "$SVC_DIR/ros/rosmaster.pid" 2>/dev/null || true; }

# ROS tools must run on the system python (a pyenv python may come first on
# PATH and lacks the Debian ROS modules).
ros_env_run() {
	env PATH="/usr/bin:/bin:$PATH" ROS_MASTER_URI="$(ros_uri)" ROS_HOSTNAME=127.0.0.1 \
		ROS_HOME="$SVC_DIR/ros" ROS_LOG_DIR="$SVC_DIR/ros/log" "$@"
}

ros_ping() { ros_env_run timeout 10 "$SYS_PY" /usr/bin/rostopic list; }

ros_up() {
	if pid_alive "$(ros_pid)" && port_open 127.0.0.1 "$ROS_PORT"; then
		return 0
	fi
	choose_port ros ROS_PORT SINT_ROS_PORT
	mkdir -p "$SVC_DIR/ros/log"
	# In its own session (a Ctrl-C of `make test` must not stop it); the
	# shell writes its own pid, then execs (env execs python): same pid.
	rm -f "$SVC_DIR/ros/rosmaster.pid"
	# shellcheck disable=SC2016 # $$ must expand in the inner shell
	setsid bash -c 'echo $$ >"$1"; shift; exec "$@"' _ "$SVC_DIR/ros/rosmaster.pid" \
		env PATH="/usr/bin:/bin:$PATH" ROS_MASTER_URI="$(ros_uri)" ROS_HOSTNAME=127.0.0.1 \
		ROS_HOME="$SVC_DIR/ros" ROS_LOG_DIR="$SVC_DIR/ros/log" \
		"$SYS_PY" /usr/bin/rosmaster --core -p "$ROS_PORT" \
		</dev/null >"$SVC_DIR/ros/rosmaster.log" 2>&1 8>&- 9>&- &
	wait_for 5 test -s "$SVC_DIR/ros/rosmaster.pid" || die "rosmaster did not start (log: $SVC_DIR/ros/rosmaster.log)"
	wait_for 20 port_open 127.0.0.1 "$ROS_PORT" || { tail -n 20 "$SVC_DIR/ros/rosmaster.log" >&2; die "rosmaster did not start"; }
	ros_ping >/dev/null 2>&1 || { tail -n 20 "$SVC_DIR/ros/rosmaster.log" >&2; die "rostopic list failed against the master"; }
}

ros_down() {
	local pid
	pid="$(ros_pid)"
	pid_alive "$pid" || return 0
	kill "$pid" 2>/dev/null || true
	wait_for 10 bash -c "! kill -0 $pid" || kill -9 "$pid" 2>/dev/null || true
	rm -f "$SVC_DIR/ros/rosmaster.pid"
}

ros_status() { pid_alive "$(ros_pid)" && port_open 127.0.0.1 "$ROS_PORT"; }

ros_env() {
	echo "export SINT_TEST_ROS_MASTER=$(ros_uri)"
	echo "export ROS_MASTER_URI=$(ros_uri)"
	echo "export ROS_HOSTNAME=127.0.0.1"
	echo "export ROS_HOME='$SVC_DIR/ros'"
	echo "export ROS_LOG_DIR='$SVC_DIR/ros/log'"
	echo "export SINT_TEST_ROS_PYTHON=$SYS_PY"
}

# ---------------------------------------------------------------- mqtt ---

mqtt_pid() { cat "$SVC_DIR/mqtt/mosquitto.pid" 2>/dev/null || true; }

mqtt_up() {
	if pid_alive "$(mqtt_pid)" && port_open 127.0.0.1 "$MQTT_PORT"; then
		return 0
	fi
	choose_port mqtt MQTT_PORT SINT_MQTT_PORT
	mkdir -p "$SVC_DIR/mqtt"
	cat >"$SVC_DIR/mqtt/mosquitto.conf" <<EOF
# sintgate test broker (scripts/services.sh)
listener $MQTT_PORT 127.0.0.1
allow_anonymous true
persistence false
pid_file $SVC_DIR/mqtt/mosquitto.pid
log_dest file $SVC_DIR/mqtt/mosquitto.log
max_keepalive 600
# Without it the broker holds small messages back ~40 ms (Nagle against the
# client's delayed ACK); see docs/mqtt.md. Production brokers want it too.
set_tcp_nodelay true
EOF
	# Stay the invoking user (root on CI) so the private files stay writable.
	is_root && echo "user root" >>"$SVC_DIR/mqtt/mosquitto.conf"
	rm -f "$SVC_DIR/mqtt/mosquitto.pid"
	mosquitto -c "$SVC_DIR/mqtt/mosquitto.conf" -d 2>>"$SVC_DIR/mqtt/mosquitto.stderr" 8>&- 9>&-
	wait_for 10 port_open 127.0.0.1 "$MQTT_PORT" || { tail -n 20 "$SVC_DIR/mqtt/mosquitto.log" >&2; die "mosquitto did not start"; }
}

mqtt_down() {
	local pid
	pid="$(mqtt_pid)"
	pid_alive "$pid" || return 0
	kill "$pid" 2>/dev/null || true
	wait_for 10 bash -c "! kill -0 $pid" || kill -9 "$pid" 2>/dev/null || true
	rm -f "$SVC_DIR/mqtt/mosquitto.pid"
}

mqtt_status() { pid_alive "$(mqtt_pid)" && port_open 127.0.0.1 "$MQTT_PORT"; }

mqtt_env() { echo "export SINT_TEST_MQTT_ADDR=127.0.0.1:$MQTT_PORT"; }

# ------------------------------------------------------------- chromium ---

chromium_up() {
	[ -x "$CHROMIUM" ] || die "$CHROMIUM missing after install"
	npm_install_e2e
}
chromium_down() { :; }
chromium_status() { [ -x "$CHROMIUM" ]; }
chromium_env() {
	echo "export SINT_TEST_CHROMIUM=$CHROMIUM"
	echo "export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1"
}

# -------------------------------------------------------------- openapi ---

# The OpenAPI linter (Redocly's CLI, pinned in tools/openapi/package-lock.json)
# that `make test` runs on gateway/server/openapi.json: a tool, not a daemon.
OPENAPI_DIR="$REPO/tools/openapi"
openapi_up() { npm_install "$OPENAPI_DIR" @redocly/cli; }
openapi_down() { :; }
openapi_status() { [ -x "$OPENAPI_DIR/node_modules/.bin/redocly" ]; }
openapi_env() { echo "export SINT_OPENAPI_LINT='$OPENAPI_DIR'"; }

# -------------------------------------------------------------- mcppeer ---

# The hostile downstream MCP servers of bridges/mcpbridge's tests, written
# with the official TypeScript SDK (pinned in its package-lock.json): a
# script run by the tests, not a daemon.
MCPPEER_DIR="$REPO/bridges/mcpbridge/testdata/peer"
mcppeer_up() { npm_install "$MCPPEER_DIR" @modelcontextprotocol/sdk; }
mcppeer_down() { :; }
mcppeer_status() { [ -d "$MCPPEER_DIR/node_modules/@modelcontextprotocol/sdk" ]; }
mcppeer_env() { echo "export SINT_TEST_MCP_PEER='$MCPPEER_DIR'"; }

# ---------------------------------------------------------------- opcua ---

# The node-opcua server (pinned in its package-lock.json) that plays the PLC
# in bridges/opcuabridge's tests: a tool, not a daemon (each test starts its
# own on a free port).
OPCUA_PLC_DIR="$REPO/bridges/opcuabridge/testdata/plc"
opcua_up() { npm_install "$OPCUA_PLC_DIR" node-opcua; }
opcua_down() { :; }
opcua_status() { [ -d "$OPCUA_PLC_DIR/node_modules/node-opcua" ]; }
opcua_env() { echo "export SINT_TEST_OPCUA_PLC='$OPCUA_PLC_DIR'"; }

# -------------------------------------------------------------- fastdds ---

# The Fast DDS peer of bridges/ros2bridge's tests (sint-fastdds-peer, a C++
# program set up like a ROS 2 node; type support generated by fastddsgen from
# its IDL at build time): a tool, not a daemon. Built into $SVC_DIR/fastdds/
# build; `up` is a no-op (one hash) while the sources and the toolchain
# (package versions) are unchanged, an incremental make when a source
# changed, and a clean build when the toolchain changed.
FASTDDS_SRC="$REPO/bridges/ros2bridge/testdata/fastdds"
FASTDDS_BUILD="$SVC_DIR/fastdds/build"
FASTDDS_PEER="$FASTDDS_BUILD/bin/sint-fastdds-peer"

fastdds_src_hash() {
	(cd "$FASTDDS_SRC" && find Makefile idl src -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum) |
		sha256sum | cut -c1-64
}

fastdds_tools_hash() {
	{
		dpkg-query -W -f='${Package} ${Version}\n' libfastrtps-dev libfastcdr-dev fastddsgen nlohmann-json3-dev 2>/dev/null
		g++ -dumpfullversion 2>/dev/null
	} | sha256sum | cut -c1-64
}

fastdds_up() {
	[ -d "$FASTDDS_SRC" ] || die "missing $FASTDDS_SRC"
	local dir="$SVC_DIR/fastdds" src tools
	mkdir -p "$dir"
	src="$(fastdds_src_hash)"
	tools="$(fastdds_tools_hash)"
	if [ -x "$FASTDDS_PEER" ] && [ "$(cat "$dir/src.hash" 2>/dev/null)" = "$src" ] &&
		[ "$(cat "$dir/tools.hash" 2>/dev/null)" = "$tools" ]; then
		return 0
	fi
	if [ "$(cat "$dir/tools.hash" 2>/dev/null)" != "$tools" ]; then
		rm -rf "$FASTDDS_BUILD"
	fi
	rm -f "$dir/src.hash"
	log "fastdds: building sint-fastdds-peer (log: $dir/build.log)"
	make -C "$FASTDDS_SRC" -j2 BUILD="$FASTDDS_BUILD" >"$dir/build.log" 2>&1 8>&- 9>&- ||
		{ tail -n 30 "$dir/build.log" >&2; die "building sint-fastdds-peer failed (log: $dir/build.log)"; }
	[ -x "$FASTDDS_PEER" ] || die "build did not produce $FASTDDS_PEER"
	"$FASTDDS_PEER" types >/dev/null || die "$FASTDDS_PEER does not run"
	echo "$tools" >"$dir/tools.hash"
	echo "$src" >"$dir/src.hash"
}
fastdds_down() { :; }
fastdds_status() { [ -x "$FASTDDS_PEER" ] && [ "$(cat "$SVC_DIR/fastdds/src.hash" 2>/dev/null)" = "$(fastdds_src_hash)" ]; }
fastdds_env() { echo "export SINT_FASTDDS_PEER='$FASTDDS_PEER'"; }

# ---------------------------------------------------------------- main ---

select_services() {
	SELECTED=()
	local s
	if [ $# -eq 0 ]; then
		SELECTED=("${ALL_SERVICES[@]}")
		return
	fi
	for s in "$@"; do SELECTED+=("$(normalize "$s")"); done
}

# svc_where SVC: " on 127.0.0.1:PORT" for a service with a port.
svc_where() {
	case "$1" in
	pg) echo " on 127.0.0.1:$PG_PORT" ;;
	redis) echo " on 127.0.0.1:$REDIS_PORT" ;;
	ros) echo " on 127.0.0.1:$ROS_PORT" ;;
	mqtt) echo " on 127.0.0.1:$MQTT_PORT" ;;
	esac
}

cmd_up() {
	select_services "$@"
	local t0 s pkgs=() missing
	t0=$(now_ms)
	mkdir -p "$SVC_DIR"
	for s in "${SELECTED[@]}"; do
		# shellcheck disable=SC2207
		pkgs+=($(pkgs_for "$s"))
	done
	missing="$(missing_pkgs "${pkgs[@]}")"
	# shellcheck disable=SC2086
	[ -n "$missing" ] && apt_install $missing
	for s in "${SELECTED[@]}"; do
		local t1
		t1=$(now_ms)
		"${s}_up"
		log "$s up$(svc_where "$s") ($(($(now_ms) - t1)) ms)"
	done
	log "all up in $(($(now_ms) - t0)) ms"
}

cmd_down() {
	local purge="" args=()
	for a in "$@"; do
		if [ "$a" = --purge ]; then purge=1; else args+=("$a"); fi
	done
	select_services "${args[@]+"${args[@]}"}"
	local s
	for s in "${SELECTED[@]}"; do
		[ -d "$SVC_DIR" ] || break
		"${s}_down"
		log "$s down"
	done
	if [ -n "$purge" ]; then
		for s in "${SELECTED[@]}"; do
			[ "$s" = pg ] && rm -rf "$(pg_base)"
			rm -rf "${SVC_DIR:?}/$s"
		done
		[ ${#args[@]} -eq 0 ] && rm -rf "$SVC_DIR"
		log "purged"
	fi
}

cmd_env() {
	select_services "$@"
	local s
	for s in "${SELECTED[@]}"; do "${s}_env"; done
}

cmd_status() {
	select_services "$@"
	local s rc=0
	for s in "${SELECTED[@]}"; do
		if "${s}_status" >/dev/null 2>&1; then
			printf '%-9s up\n' "$s"
		else
			printf '%-9s down\n' "$s"
			rc=1
		fi
	done
	return "$rc"
}

# lock serialises `up` and `down` (two `make test` started at once must not
# both initdb or both start a server on the same port). Daemons are started
# with fd 9 closed so that they do not hold the lock for their lifetime.
lock() {
	command -v flock >/dev/null || return 0
	mkdir -p "$SVC_DIR"
	exec 9>"$SVC_DIR/.lock"
	if ! flock -w 300 9; then
		die "another services.sh holds $SVC_DIR/.lock for more than 300 s"
	fi
	# Machine-wide, so that two clones starting at once do not pick the
	# same free port.
	local global="${TMPDIR:-/tmp}/sintgate-services-ports.lock"
	touch "$global" 2>/dev/null && chmod a+rw "$global" 2>/dev/null
	if [ -w "$global" ]; then
		exec 8>>"$global"
		flock -w 300 8 || die "another services.sh holds $global for more than 300 s"
	fi
}

usage() {
	sed -n '2,/^set -euo/{/^#/p}' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
}

main() {
	PG_BASE="$(pg_base)"
	local cmd="${1:-}"
	[ $# -gt 0 ] && shift
	case "$cmd" in
	up)
		lock
		cmd_up "$@"
		;;
	down)
		lock
		cmd_down "$@"
		;;
	env) cmd_env "$@" ;;
	status) cmd_status "$@" ;;
	pydeps)
		lock
		cmd_pydeps
		;;
	-h | --help | help) usage ;;
	*) usage >&2; exit 2 ;;
	esac
}

main "$@"
