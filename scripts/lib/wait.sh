# Shared by the GUI scripts (sourced after they define `fail`): waiting with a deadline, and
# ports on 127.0.0.1.

# wait_until SECONDS DESCRIPTION COMMAND...: poll COMMAND every 0.2 s; `fail` after SECONDS.
wait_until() {
    local secs=$1 what=$2
    shift 2
    local deadline=$((SECONDS + secs))
    until "$@"; do
        [ "$SECONDS" -lt "$deadline" ] || fail "timed out after ${secs}s waiting for $what"
        sleep 0.2
    done
}

# listening PORT: something accepts connections on 127.0.0.1:PORT.
listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# free_port [NOT]: a port below the kernel's ephemeral range (32768-60999 by default) that
# nothing listens on (and that is not NOT).
free_port() {
    local p
    for _ in $(seq 1 200); do
        p=$((20000 + RANDOM % 12000))
        if ! listening "$p" && [ "$p" != "${1:-}" ]; then
            echo "$p"
            return 0
        fi
    done
    return 1
}

# alive PID: the process still runs.
alive() { kill -0 "$1" 2>/dev/null; }
