# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_conncheck_global_optspecs
    string join \n h/host= P/port= u/user= p/password= S/socket= D/database= protocol= url= targets= jobs= deadline= defaults-file= defaults-extra-file= no-defaults login-path= no-login-paths ssl-mode= ssl-ca= ssl-cert= ssl-key= server-public-key-path= get-server-public-key connect-timeout= query-timeout= admin-port= color= debug help V/version
end

function __fish_conncheck_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_conncheck_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_conncheck_using_subcommand
    set -l cmd (__fish_conncheck_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c conncheck -n "__fish_conncheck_needs_command" -s h -l host -d 'Server host name or IP. `localhost` means the Unix socket, `127.0.0.1` means TCP (as in mysql). Environment: MYSQL_HOST' -r
complete -c conncheck -n "__fish_conncheck_needs_command" -s P -l port -d 'TCP port [default: 3306]. Environment: MYSQL_TCP_PORT' -r
complete -c conncheck -n "__fish_conncheck_needs_command" -s u -l user -d 'User name [default: your login name]' -r
complete -c conncheck -n "__fish_conncheck_needs_command" -s p -l password -d 'Password. A bare -p prompts with hidden input; a value must be attached: -pSECRET or --password=SECRET (prints a warning, as mysql does). Prefer ~/.my.cnf or MYSQL_PWD' -r
complete -c conncheck -n "__fish_conncheck_needs_command" -s S -l socket -d 'Unix socket file (used when the host is localhost or not given). Environment: MYSQL_UNIX_PORT' -r -F
complete -c conncheck -n "__fish_conncheck_needs_command" -s D -l database -d 'Default database for the session' -r
complete -c conncheck -n "__fish_conncheck_needs_command" -l protocol -d 'Force the transport: tcp, or socket. By default localhost uses the socket, anything else TCP' -r -f -a "tcp\t''
socket\t''"
complete -c conncheck -n "__fish_conncheck_needs_command" -l url -d 'Connection URL: mysql://user:pass@host:port/db (also mariadb://). Repeat it to check several servers at once (status, check, diagnose)' -r
complete -c conncheck -n "__fish_conncheck_needs_command" -l targets -d 'File with one target per line (a URL or host[:port]; # starts a comment). Credentials for host[:port] lines come from option files and the environment' -r -F
complete -c conncheck -n "__fish_conncheck_needs_command" -l jobs -d 'How many targets to read at once when there are several (each has its own connection and timeouts). Connecting is apart: up to 1,024 connection attempts run at once (fewer when the open-files limit is lower), so servers that never answer delay no other' -r
complete -c conncheck -n "__fish_conncheck_needs_command" -l deadline -d 'With several targets, stop after this long: the targets not finished by then are reported UNKNOWN (check) or as a timeout (status, diagnose), with what they were still doing. Default: wait for every target (each is bounded by its own timeouts)' -r
complete -c conncheck -n "__fish_conncheck_needs_command" -l defaults-file -d 'Read options only from this file (no other option files)' -r -F
complete -c conncheck -n "__fish_conncheck_needs_command" -l defaults-extra-file -d 'Read this option file after the usual ones' -r -F
complete -c conncheck -n "__fish_conncheck_needs_command" -l login-path -d 'Also read option group [NAME] of every option file and of the login path file ~/.mylogin.cnf (written by `mysql_config_editor set --login-path=NAME`)' -r
complete -c conncheck -n "__fish_conncheck_needs_command" -l ssl-mode -d 'TLS: DISABLED, PREFERRED (default: TLS when offered; loopback and sockets stay plain), REQUIRED, VERIFY_CA, VERIFY_IDENTITY. TLS never applies to a Unix socket' -r -f -a "DISABLED\t''
PREFERRED\t''
REQUIRED\t''
VERIFY_CA\t''
VERIFY_IDENTITY\t''"
complete -c conncheck -n "__fish_conncheck_needs_command" -l ssl-ca -d 'CA certificate file (PEM) for VERIFY_CA / VERIFY_IDENTITY' -r -F
complete -c conncheck -n "__fish_conncheck_needs_command" -l ssl-cert -d 'Client certificate (PEM) for TLS client authentication' -r -F
complete -c conncheck -n "__fish_conncheck_needs_command" -l ssl-key -d 'Client private key (PEM) for TLS client authentication' -r -F
complete -c conncheck -n "__fish_conncheck_needs_command" -l server-public-key-path -d 'The server\'s RSA public key (PEM, its public_key.pem), for a caching_sha2_password account over TCP without TLS: when the server asks for the password itself, it is encrypted with this key. Without it (or TLS, a socket, --get-server-public-key) conncheck refuses (exit 19)' -r -F
complete -c conncheck -n "__fish_conncheck_needs_command" -l connect-timeout -d 'Give up connecting after this long (TCP connect, greeting and login together)' -r
complete -c conncheck -n "__fish_conncheck_needs_command" -l query-timeout -d 'Give up on any single query after this long (network read/write timeout; our statements also get a server-side limit so they never pile up on a sick server)' -r
complete -c conncheck -n "__fish_conncheck_needs_command" -l admin-port -d 'Try this port first: MySQL\'s admin_port (33062) or MariaDB\'s extra_port, which keep working when max_connections is reached. Falls back to the normal port' -r
complete -c conncheck -n "__fish_conncheck_needs_command" -l color -d 'When to use colors: auto (a terminal, NO_COLOR unset, TERM not dumb), always, never' -r -f -a "auto\t''
always\t''
never\t''"
complete -c conncheck -n "__fish_conncheck_needs_command" -l no-defaults -d 'Read no option files (the login path file ~/.mylogin.cnf is still read, as MySQL does; --no-login-paths skips it)'
complete -c conncheck -n "__fish_conncheck_needs_command" -l no-login-paths -d 'Do not read the login path file ~/.mylogin.cnf ($MYSQL_TEST_LOGIN_FILE)'
complete -c conncheck -n "__fish_conncheck_needs_command" -l get-server-public-key -d 'Over TCP without TLS, let a caching_sha2_password login ask the server for its RSA public key and encrypt the password with it. The key is not verified: whoever answers in the server\'s place receives the password. Prefer TLS or --server-public-key-path'
complete -c conncheck -n "__fish_conncheck_needs_command" -l debug -d 'Log every statement sent to the server, with its round-trip time, on stderr (never the password: it is not part of any statement)'
complete -c conncheck -n "__fish_conncheck_needs_command" -l help -d 'Print help (-h is the host, as in the mysql client)'
complete -c conncheck -n "__fish_conncheck_needs_command" -s V -l version -d 'Print version'
complete -c conncheck -n "__fish_conncheck_needs_command" -f -a "status" -d 'One screen: flavor, usage against max_connections, counters, timeouts and the top clients'
complete -c conncheck -n "__fish_conncheck_needs_command" -f -a "sessions" -d 'The processlist with filters, grouping and open-transaction ages'
complete -c conncheck -n "__fish_conncheck_needs_command" -f -a "diagnose" -d 'Find why the server runs out of connections: ranked causes, evidence, and the fix for each'
complete -c conncheck -n "__fish_conncheck_needs_command" -f -a "snapshot" -d 'Save everything diagnose reads to a JSON file (judge it later with `diagnose --from`)'
complete -c conncheck -n "__fish_conncheck_needs_command" -f -a "kill-idle" -d 'Kill sessions idle (Sleep) for at least --older-than, after showing the plan'
complete -c conncheck -n "__fish_conncheck_needs_command" -f -a "kill-long" -d 'Kill sessions (or only their statements) running for at least --longer-than'
complete -c conncheck -n "__fish_conncheck_needs_command" -f -a "set-timeouts" -d 'Lower (or raise) the global wait_timeout / interactive_timeout'
complete -c conncheck -n "__fish_conncheck_needs_command" -f -a "set-max-connections" -d 'Change the global max_connections, showing its memory cost first'
complete -c conncheck -n "__fish_conncheck_needs_command" -f -a "set-slow-log" -d 'Turn the slow query log on or off (find the queries that hold connections)'
complete -c conncheck -n "__fish_conncheck_needs_command" -f -a "check" -d 'Health check for CI and monitoring: Nagios exit codes, JSON or Prometheus output'
complete -c conncheck -n "__fish_conncheck_needs_command" -f -a "watch" -d 'Live view of connection usage, refreshed every --interval'
complete -c conncheck -n "__fish_conncheck_needs_command" -f -a "record" -d 'Flight recorder: sample every --interval, and write an incident folder when a trigger fires'
complete -c conncheck -n "__fish_conncheck_needs_command" -f -a "completions" -d 'Print a shell completion script'
complete -c conncheck -n "__fish_conncheck_needs_command" -f -a "man" -d 'Write the man pages into a directory'
complete -c conncheck -n "__fish_conncheck_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c conncheck -n "__fish_conncheck_using_subcommand status" -l sample -d 'Read global status twice this far apart for the connection, abort and refusal rates (0 = one reading; the rates are then averages since the server started)' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand status" -l format -d 'Output format' -r -f -a "table\t'Human-readable tables'
json\t'Versioned JSON (every field: docs/json.md)'"
complete -c conncheck -n "__fish_conncheck_using_subcommand status" -l top -d 'How many client groups (user@host) to list' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand status" -s h -l host -d 'Server host name or IP. `localhost` means the Unix socket, `127.0.0.1` means TCP (as in mysql). Environment: MYSQL_HOST' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand status" -s P -l port -d 'TCP port [default: 3306]. Environment: MYSQL_TCP_PORT' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand status" -s u -l user -d 'User name [default: your login name]' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand status" -s p -l password -d 'Password. A bare -p prompts with hidden input; a value must be attached: -pSECRET or --password=SECRET (prints a warning, as mysql does). Prefer ~/.my.cnf or MYSQL_PWD' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand status" -s S -l socket -d 'Unix socket file (used when the host is localhost or not given). Environment: MYSQL_UNIX_PORT' -r -F
complete -c conncheck -n "__fish_conncheck_using_subcommand status" -s D -l database -d 'Default database for the session' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand status" -l protocol -d 'Force the transport: tcp, or socket. By default localhost uses the socket, anything else TCP' -r -f -a "tcp\t''
socket\t''"
complete -c conncheck -n "__fish_conncheck_using_subcommand status" -l url -d 'Connection URL: mysql://user:pass@host:port/db (also mariadb://). Repeat it to check several servers at once (status, check, diagnose)' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand status" -l targets -d 'File with one target per line (a URL or host[:port]; # starts a comment). Credentials for host[:port] lines come from option files and the environment' -r -F
complete -c conncheck -n "__fish_conncheck_using_subcommand status" -l jobs -d 'How many targets to read at once when there are several (each has its own connection and timeouts). Connecting is apart: up to 1,024 connection attempts run at once (fewer when the open-files limit is lower), so servers that never answer delay no other' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand status" -l deadline -d 'With several targets, stop after this long: the targets not finished by then are reported UNKNOWN (check) or as a timeout (status, diagnose), with what they were still doing. Default: wait for every target (each is bounded by its own timeouts)' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand status" -l defaults-file -d 'Read options only from this file (no other option files)' -r -F
complete -c conncheck -n "__fish_conncheck_using_subcommand status" -l defaults-extra-file -d 'Read this option file after the usual ones' -r -F
complete -c conncheck -n "__fish_conncheck_using_subcommand status" -l login-path -d 'Also read option group [NAME] of every option file and of the login path file ~/.mylogin.cnf (written by `mysql_config_editor set --login-path=NAME`)' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand status" -l ssl-mode -d 'TLS: DISABLED, PREFERRED (default: TLS when offered; loopback and sockets stay plain), REQUIRED, VERIFY_CA, VERIFY_IDENTITY. TLS never applies to a Unix socket' -r -f -a "DISABLED\t''
PREFERRED\t''
REQUIRED\t''
VERIFY_CA\t''
VERIFY_IDENTITY\t''"
complete -c conncheck -n "__fish_conncheck_using_subcommand status" -l ssl-ca -d 'CA certificate file (PEM) for VERIFY_CA / VERIFY_IDENTITY' -r -F
complete -c conncheck -n "__fish_conncheck_using_subcommand status" -l ssl-cert -d 'Client certificate (PEM) for TLS client authentication' -r -F
complete -c conncheck -n "__fish_conncheck_using_subcommand status" -l ssl-key -d 'Client private key (PEM) for TLS client authentication' -r -F
complete -c conncheck -n "__fish_conncheck_using_subcommand status" -l server-public-key-path -d 'The server\'s RSA public key (PEM, its public_key.pem), for a caching_sha2_password account over TCP without TLS: when the server asks for the password itself, it is encrypted with this key. Without it (or TLS, a socket, --get-server-public-key) conncheck refuses (exit 19)' -r -F
complete -c conncheck -n "__fish_conncheck_using_subcommand status" -l connect-timeout -d 'Give up connecting after this long (TCP connect, greeting and login together)' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand status" -l query-timeout -d 'Give up on any single query after this long (network read/write timeout; our statements also get a server-side limit so they never pile up on a sick server)' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand status" -l admin-port -d 'Try this port first: MySQL\'s admin_port (33062) or MariaDB\'s extra_port, which keep working when max_connections is reached. Falls back to the normal port' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand status" -l color -d 'When to use colors: auto (a terminal, NO_COLOR unset, TERM not dumb), always, never' -r -f -a "auto\t''
always\t''
never\t''"
complete -c conncheck -n "__fish_conncheck_using_subcommand status" -l no-defaults -d 'Read no option files (the login path file ~/.mylogin.cnf is still read, as MySQL does; --no-login-paths skips it)'
complete -c conncheck -n "__fish_conncheck_using_subcommand status" -l no-login-paths -d 'Do not read the login path file ~/.mylogin.cnf ($MYSQL_TEST_LOGIN_FILE)'
complete -c conncheck -n "__fish_conncheck_using_subcommand status" -l get-server-public-key -d 'Over TCP without TLS, let a caching_sha2_password login ask the server for its RSA public key and encrypt the password with it. The key is not verified: whoever answers in the server\'s place receives the password. Prefer TLS or --server-public-key-path'
complete -c conncheck -n "__fish_conncheck_using_subcommand status" -l debug -d 'Log every statement sent to the server, with its round-trip time, on stderr (never the password: it is not part of any statement)'
complete -c conncheck -n "__fish_conncheck_using_subcommand status" -l help -d 'Print help (-h is the host, as in the mysql client)'
complete -c conncheck -n "__fish_conncheck_using_subcommand sessions" -l match-user -d 'Only sessions of this user: `app` (any host) or `app@10.0.0.7`, the user@host form conncheck prints (host without the client\'s port; `app@%` is any host). `a@b` is always the user `a` from host `b`: quote a user name that holds `@`, as in SQL (`\'a@b\'@\'%\'`). Exact match; repeat for several' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand sessions" -l match-host -d 'Only sessions from this client host (exact match, without the :port; repeat for several)' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand sessions" -l match-db -l db -d 'Only sessions whose default database is this (exact; repeat for several)' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand sessions" -l match-command -l command -d 'Only sessions in this command, e.g. Sleep, Query (case-insensitive; repeat for several)' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand sessions" -l match-state -l state -d 'Only sessions whose state matches this regex (unanchored unless you anchor it)' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand sessions" -l match-info -d 'Only sessions whose query text (Info) matches this regex (unanchored unless you anchor it, e.g. \'^SELECT\'; use (?i) for case-insensitive)' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand sessions" -l min-time -d 'Only sessions at least this long in their current state (e.g. 30s, 5m)' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand sessions" -l group-by -d 'Group the sessions and show counts, oldest and total time per group' -r -f -a "user\t''
host\t''
db\t''
command\t''
state\t''
digest\t'The running statement\'s digest (`crate::text::digest`): values become `?`, so one query shape sent by many sessions is one group'"
complete -c conncheck -n "__fish_conncheck_using_subcommand sessions" -l format -d 'Output format' -r -f -a "table\t'Human-readable tables'
json\t'Versioned JSON (every field: docs/json.md)'"
complete -c conncheck -n "__fish_conncheck_using_subcommand sessions" -l limit -d 'Show at most this many rows (0 = all)' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand sessions" -s h -l host -d 'Server host name or IP. `localhost` means the Unix socket, `127.0.0.1` means TCP (as in mysql). Environment: MYSQL_HOST' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand sessions" -s P -l port -d 'TCP port [default: 3306]. Environment: MYSQL_TCP_PORT' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand sessions" -s u -l user -d 'User name [default: your login name]' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand sessions" -s p -l password -d 'Password. A bare -p prompts with hidden input; a value must be attached: -pSECRET or --password=SECRET (prints a warning, as mysql does). Prefer ~/.my.cnf or MYSQL_PWD' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand sessions" -s S -l socket -d 'Unix socket file (used when the host is localhost or not given). Environment: MYSQL_UNIX_PORT' -r -F
complete -c conncheck -n "__fish_conncheck_using_subcommand sessions" -s D -l database -d 'Default database for the session' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand sessions" -l protocol -d 'Force the transport: tcp, or socket. By default localhost uses the socket, anything else TCP' -r -f -a "tcp\t''
socket\t''"
complete -c conncheck -n "__fish_conncheck_using_subcommand sessions" -l url -d 'Connection URL: mysql://user:pass@host:port/db (also mariadb://). Repeat it to check several servers at once (status, check, diagnose)' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand sessions" -l targets -d 'File with one target per line (a URL or host[:port]; # starts a comment). Credentials for host[:port] lines come from option files and the environment' -r -F
complete -c conncheck -n "__fish_conncheck_using_subcommand sessions" -l jobs -d 'How many targets to read at once when there are several (each has its own connection and timeouts). Connecting is apart: up to 1,024 connection attempts run at once (fewer when the open-files limit is lower), so servers that never answer delay no other' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand sessions" -l deadline -d 'With several targets, stop after this long: the targets not finished by then are reported UNKNOWN (check) or as a timeout (status, diagnose), with what they were still doing. Default: wait for every target (each is bounded by its own timeouts)' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand sessions" -l defaults-file -d 'Read options only from this file (no other option files)' -r -F
complete -c conncheck -n "__fish_conncheck_using_subcommand sessions" -l defaults-extra-file -d 'Read this option file after the usual ones' -r -F
complete -c conncheck -n "__fish_conncheck_using_subcommand sessions" -l login-path -d 'Also read option group [NAME] of every option file and of the login path file ~/.mylogin.cnf (written by `mysql_config_editor set --login-path=NAME`)' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand sessions" -l ssl-mode -d 'TLS: DISABLED, PREFERRED (default: TLS when offered; loopback and sockets stay plain), REQUIRED, VERIFY_CA, VERIFY_IDENTITY. TLS never applies to a Unix socket' -r -f -a "DISABLED\t''
PREFERRED\t''
REQUIRED\t''
VERIFY_CA\t''
VERIFY_IDENTITY\t''"
complete -c conncheck -n "__fish_conncheck_using_subcommand sessions" -l ssl-ca -d 'CA certificate file (PEM) for VERIFY_CA / VERIFY_IDENTITY' -r -F
complete -c conncheck -n "__fish_conncheck_using_subcommand sessions" -l ssl-cert -d 'Client certificate (PEM) for TLS client authentication' -r -F
complete -c conncheck -n "__fish_conncheck_using_subcommand sessions" -l ssl-key -d 'Client private key (PEM) for TLS client authentication' -r -F
complete -c conncheck -n "__fish_conncheck_using_subcommand sessions" -l server-public-key-path -d 'The server\'s RSA public key (PEM, its public_key.pem), for a caching_sha2_password account over TCP without TLS: when the server asks for the password itself, it is encrypted with this key. Without it (or TLS, a socket, --get-server-public-key) conncheck refuses (exit 19)' -r -F
complete -c conncheck -n "__fish_conncheck_using_subcommand sessions" -l connect-timeout -d 'Give up connecting after this long (TCP connect, greeting and login together)' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand sessions" -l query-timeout -d 'Give up on any single query after this long (network read/write timeout; our statements also get a server-side limit so they never pile up on a sick server)' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand sessions" -l admin-port -d 'Try this port first: MySQL\'s admin_port (33062) or MariaDB\'s extra_port, which keep working when max_connections is reached. Falls back to the normal port' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand sessions" -l color -d 'When to use colors: auto (a terminal, NO_COLOR unset, TERM not dumb), always, never' -r -f -a "auto\t''
always\t''
never\t''"
complete -c conncheck -n "__fish_conncheck_using_subcommand sessions" -l sleeping -d 'Only sleeping (idle) sessions'
complete -c conncheck -n "__fish_conncheck_using_subcommand sessions" -l busy -d 'Only busy (non-Sleep) sessions'
complete -c conncheck -n "__fish_conncheck_using_subcommand sessions" -l full -d 'Show full query texts instead of a 60-character snippet'
complete -c conncheck -n "__fish_conncheck_using_subcommand sessions" -l no-defaults -d 'Read no option files (the login path file ~/.mylogin.cnf is still read, as MySQL does; --no-login-paths skips it)'
complete -c conncheck -n "__fish_conncheck_using_subcommand sessions" -l no-login-paths -d 'Do not read the login path file ~/.mylogin.cnf ($MYSQL_TEST_LOGIN_FILE)'
complete -c conncheck -n "__fish_conncheck_using_subcommand sessions" -l get-server-public-key -d 'Over TCP without TLS, let a caching_sha2_password login ask the server for its RSA public key and encrypt the password with it. The key is not verified: whoever answers in the server\'s place receives the password. Prefer TLS or --server-public-key-path'
complete -c conncheck -n "__fish_conncheck_using_subcommand sessions" -l debug -d 'Log every statement sent to the server, with its round-trip time, on stderr (never the password: it is not part of any statement)'
complete -c conncheck -n "__fish_conncheck_using_subcommand sessions" -l help -d 'Print help (-h is the host, as in the mysql client)'
complete -c conncheck -n "__fish_conncheck_using_subcommand diagnose" -l idle-threshold -d 'A sleeping session idle this long counts as idle' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand diagnose" -l long-query-threshold -d 'A statement running this long counts as long-running' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand diagnose" -l trx-threshold -d 'A transaction open this long while its session sleeps counts as an idle transaction' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand diagnose" -l warning -d 'Connection usage that is a warning: a percentage of max_connections (80%) or a count (400). Must be below --critical (a percentage and a count are compared on the server\'s max_connections)' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand diagnose" -l critical -d 'Connection usage that is critical: a percentage of max_connections (90%, at most 100%) or a count' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand diagnose" -l server-memory -d 'Server RAM in bytes, with K/M/G/T suffixes (e.g. 16G), for the memory estimate. Read from /proc/meminfo when the server is local; otherwise unknown' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand diagnose" -l sample -d 'Read global status twice this far apart to measure rates (0 = one reading). From 3s the trend of Threads_connected gives a forecast: when the server is full at that rate' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand diagnose" -l from -d 'Judge a saved snapshot (from `conncheck snapshot -o`) instead of connecting, or replay an incident folder (from `conncheck record --dir`): the verdict at its peak, and what grew before the trigger' -r -F
complete -c conncheck -n "__fish_conncheck_using_subcommand diagnose" -l chart -d 'With `--from DIR` (an incident folder): also draw connections per top client over time, with max_connections and the trigger, as an SVG file' -r -F
complete -c conncheck -n "__fish_conncheck_using_subcommand diagnose" -l format -d 'Output format' -r -f -a "table\t'Human-readable tables'
json\t'Versioned JSON (every field: docs/json.md)'"
complete -c conncheck -n "__fish_conncheck_using_subcommand diagnose" -l fail-on -d 'Exit with code 1 when a finding of this severity or worse is found' -r -f -a "warning\t''
critical\t''"
complete -c conncheck -n "__fish_conncheck_using_subcommand diagnose" -s h -l host -d 'Server host name or IP. `localhost` means the Unix socket, `127.0.0.1` means TCP (as in mysql). Environment: MYSQL_HOST' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand diagnose" -s P -l port -d 'TCP port [default: 3306]. Environment: MYSQL_TCP_PORT' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand diagnose" -s u -l user -d 'User name [default: your login name]' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand diagnose" -s p -l password -d 'Password. A bare -p prompts with hidden input; a value must be attached: -pSECRET or --password=SECRET (prints a warning, as mysql does). Prefer ~/.my.cnf or MYSQL_PWD' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand diagnose" -s S -l socket -d 'Unix socket file (used when the host is localhost or not given). Environment: MYSQL_UNIX_PORT' -r -F
complete -c conncheck -n "__fish_conncheck_using_subcommand diagnose" -s D -l database -d 'Default database for the session' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand diagnose" -l protocol -d 'Force the transport: tcp, or socket. By default localhost uses the socket, anything else TCP' -r -f -a "tcp\t''
socket\t''"
complete -c conncheck -n "__fish_conncheck_using_subcommand diagnose" -l url -d 'Connection URL: mysql://user:pass@host:port/db (also mariadb://). Repeat it to check several servers at once (status, check, diagnose)' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand diagnose" -l targets -d 'File with one target per line (a URL or host[:port]; # starts a comment). Credentials for host[:port] lines come from option files and the environment' -r -F
complete -c conncheck -n "__fish_conncheck_using_subcommand diagnose" -l jobs -d 'How many targets to read at once when there are several (each has its own connection and timeouts). Connecting is apart: up to 1,024 connection attempts run at once (fewer when the open-files limit is lower), so servers that never answer delay no other' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand diagnose" -l deadline -d 'With several targets, stop after this long: the targets not finished by then are reported UNKNOWN (check) or as a timeout (status, diagnose), with what they were still doing. Default: wait for every target (each is bounded by its own timeouts)' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand diagnose" -l defaults-file -d 'Read options only from this file (no other option files)' -r -F
complete -c conncheck -n "__fish_conncheck_using_subcommand diagnose" -l defaults-extra-file -d 'Read this option file after the usual ones' -r -F
complete -c conncheck -n "__fish_conncheck_using_subcommand diagnose" -l login-path -d 'Also read option group [NAME] of every option file and of the login path file ~/.mylogin.cnf (written by `mysql_config_editor set --login-path=NAME`)' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand diagnose" -l ssl-mode -d 'TLS: DISABLED, PREFERRED (default: TLS when offered; loopback and sockets stay plain), REQUIRED, VERIFY_CA, VERIFY_IDENTITY. TLS never applies to a Unix socket' -r -f -a "DISABLED\t''
PREFERRED\t''
REQUIRED\t''
VERIFY_CA\t''
VERIFY_IDENTITY\t''"
complete -c conncheck -n "__fish_conncheck_using_subcommand diagnose" -l ssl-ca -d 'CA certificate file (PEM) for VERIFY_CA / VERIFY_IDENTITY' -r -F
complete -c conncheck -n "__fish_conncheck_using_subcommand diagnose" -l ssl-cert -d 'Client certificate (PEM) for TLS client authentication' -r -F
complete -c conncheck -n "__fish_conncheck_using_subcommand diagnose" -l ssl-key -d 'Client private key (PEM) for TLS client authentication' -r -F
complete -c conncheck -n "__fish_conncheck_using_subcommand diagnose" -l server-public-key-path -d 'The server\'s RSA public key (PEM, its public_key.pem), for a caching_sha2_password account over TCP without TLS: when the server asks for the password itself, it is encrypted with this key. Without it (or TLS, a socket, --get-server-public-key) conncheck refuses (exit 19)' -r -F
complete -c conncheck -n "__fish_conncheck_using_subcommand diagnose" -l connect-timeout -d 'Give up connecting after this long (TCP connect, greeting and login together)' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand diagnose" -l query-timeout -d 'Give up on any single query after this long (network read/write timeout; our statements also get a server-side limit so they never pile up on a sick server)' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand diagnose" -l admin-port -d 'Try this port first: MySQL\'s admin_port (33062) or MariaDB\'s extra_port, which keep working when max_connections is reached. Falls back to the normal port' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand diagnose" -l color -d 'When to use colors: auto (a terminal, NO_COLOR unset, TERM not dumb), always, never' -r -f -a "auto\t''
always\t''
never\t''"
complete -c conncheck -n "__fish_conncheck_using_subcommand diagnose" -s v -l verbose -d 'Also list the sessions behind each finding'
complete -c conncheck -n "__fish_conncheck_using_subcommand diagnose" -l no-defaults -d 'Read no option files (the login path file ~/.mylogin.cnf is still read, as MySQL does; --no-login-paths skips it)'
complete -c conncheck -n "__fish_conncheck_using_subcommand diagnose" -l no-login-paths -d 'Do not read the login path file ~/.mylogin.cnf ($MYSQL_TEST_LOGIN_FILE)'
complete -c conncheck -n "__fish_conncheck_using_subcommand diagnose" -l get-server-public-key -d 'Over TCP without TLS, let a caching_sha2_password login ask the server for its RSA public key and encrypt the password with it. The key is not verified: whoever answers in the server\'s place receives the password. Prefer TLS or --server-public-key-path'
complete -c conncheck -n "__fish_conncheck_using_subcommand diagnose" -l debug -d 'Log every statement sent to the server, with its round-trip time, on stderr (never the password: it is not part of any statement)'
complete -c conncheck -n "__fish_conncheck_using_subcommand diagnose" -l help -d 'Print help (-h is the host, as in the mysql client)'
complete -c conncheck -n "__fish_conncheck_using_subcommand snapshot" -s o -l output -d 'Write the snapshot here (default: standard output)' -r -F
complete -c conncheck -n "__fish_conncheck_using_subcommand snapshot" -l sample -d 'Read global status twice this far apart to measure rates (0 = one reading)' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand snapshot" -s h -l host -d 'Server host name or IP. `localhost` means the Unix socket, `127.0.0.1` means TCP (as in mysql). Environment: MYSQL_HOST' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand snapshot" -s P -l port -d 'TCP port [default: 3306]. Environment: MYSQL_TCP_PORT' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand snapshot" -s u -l user -d 'User name [default: your login name]' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand snapshot" -s p -l password -d 'Password. A bare -p prompts with hidden input; a value must be attached: -pSECRET or --password=SECRET (prints a warning, as mysql does). Prefer ~/.my.cnf or MYSQL_PWD' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand snapshot" -s S -l socket -d 'Unix socket file (used when the host is localhost or not given). Environment: MYSQL_UNIX_PORT' -r -F
complete -c conncheck -n "__fish_conncheck_using_subcommand snapshot" -s D -l database -d 'Default database for the session' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand snapshot" -l protocol -d 'Force the transport: tcp, or socket. By default localhost uses the socket, anything else TCP' -r -f -a "tcp\t''
socket\t''"
complete -c conncheck -n "__fish_conncheck_using_subcommand snapshot" -l url -d 'Connection URL: mysql://user:pass@host:port/db (also mariadb://). Repeat it to check several servers at once (status, check, diagnose)' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand snapshot" -l targets -d 'File with one target per line (a URL or host[:port]; # starts a comment). Credentials for host[:port] lines come from option files and the environment' -r -F
complete -c conncheck -n "__fish_conncheck_using_subcommand snapshot" -l jobs -d 'How many targets to read at once when there are several (each has its own connection and timeouts). Connecting is apart: up to 1,024 connection attempts run at once (fewer when the open-files limit is lower), so servers that never answer delay no other' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand snapshot" -l deadline -d 'With several targets, stop after this long: the targets not finished by then are reported UNKNOWN (check) or as a timeout (status, diagnose), with what they were still doing. Default: wait for every target (each is bounded by its own timeouts)' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand snapshot" -l defaults-file -d 'Read options only from this file (no other option files)' -r -F
complete -c conncheck -n "__fish_conncheck_using_subcommand snapshot" -l defaults-extra-file -d 'Read this option file after the usual ones' -r -F
complete -c conncheck -n "__fish_conncheck_using_subcommand snapshot" -l login-path -d 'Also read option group [NAME] of every option file and of the login path file ~/.mylogin.cnf (written by `mysql_config_editor set --login-path=NAME`)' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand snapshot" -l ssl-mode -d 'TLS: DISABLED, PREFERRED (default: TLS when offered; loopback and sockets stay plain), REQUIRED, VERIFY_CA, VERIFY_IDENTITY. TLS never applies to a Unix socket' -r -f -a "DISABLED\t''
PREFERRED\t''
REQUIRED\t''
VERIFY_CA\t''
VERIFY_IDENTITY\t''"
complete -c conncheck -n "__fish_conncheck_using_subcommand snapshot" -l ssl-ca -d 'CA certificate file (PEM) for VERIFY_CA / VERIFY_IDENTITY' -r -F
complete -c conncheck -n "__fish_conncheck_using_subcommand snapshot" -l ssl-cert -d 'Client certificate (PEM) for TLS client authentication' -r -F
complete -c conncheck -n "__fish_conncheck_using_subcommand snapshot" -l ssl-key -d 'Client private key (PEM) for TLS client authentication' -r -F
complete -c conncheck -n "__fish_conncheck_using_subcommand snapshot" -l server-public-key-path -d 'The server\'s RSA public key (PEM, its public_key.pem), for a caching_sha2_password account over TCP without TLS: when the server asks for the password itself, it is encrypted with this key. Without it (or TLS, a socket, --get-server-public-key) conncheck refuses (exit 19)' -r -F
complete -c conncheck -n "__fish_conncheck_using_subcommand snapshot" -l connect-timeout -d 'Give up connecting after this long (TCP connect, greeting and login together)' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand snapshot" -l query-timeout -d 'Give up on any single query after this long (network read/write timeout; our statements also get a server-side limit so they never pile up on a sick server)' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand snapshot" -l admin-port -d 'Try this port first: MySQL\'s admin_port (33062) or MariaDB\'s extra_port, which keep working when max_connections is reached. Falls back to the normal port' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand snapshot" -l color -d 'When to use colors: auto (a terminal, NO_COLOR unset, TERM not dumb), always, never' -r -f -a "auto\t''
always\t''
never\t''"
complete -c conncheck -n "__fish_conncheck_using_subcommand snapshot" -l no-defaults -d 'Read no option files (the login path file ~/.mylogin.cnf is still read, as MySQL does; --no-login-paths skips it)'
complete -c conncheck -n "__fish_conncheck_using_subcommand snapshot" -l no-login-paths -d 'Do not read the login path file ~/.mylogin.cnf ($MYSQL_TEST_LOGIN_FILE)'
complete -c conncheck -n "__fish_conncheck_using_subcommand snapshot" -l get-server-public-key -d 'Over TCP without TLS, let a caching_sha2_password login ask the server for its RSA public key and encrypt the password with it. The key is not verified: whoever answers in the server\'s place receives the password. Prefer TLS or --server-public-key-path'
complete -c conncheck -n "__fish_conncheck_using_subcommand snapshot" -l debug -d 'Log every statement sent to the server, with its round-trip time, on stderr (never the password: it is not part of any statement)'
complete -c conncheck -n "__fish_conncheck_using_subcommand snapshot" -l help -d 'Print help (-h is the host, as in the mysql client)'
complete -c conncheck -n "__fish_conncheck_using_subcommand kill-idle" -l older-than -d 'Kill sessions idle (Sleep) at least this long, e.g. 300s or 10m' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand kill-idle" -l match-user -d 'Only sessions of this user: `app` (any host) or `app@10.0.0.7`, the user@host form conncheck prints (host without the client\'s port; `app@%` is any host). `a@b` is always the user `a` from host `b`: quote a user name that holds `@`, as in SQL (`\'a@b\'@\'%\'`). Exact match; repeat for several' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand kill-idle" -l match-host -d 'Only sessions from this client host (exact match, without the :port; repeat for several)' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand kill-idle" -l match-db -l db -d 'Only sessions whose default database is this (exact; repeat for several)' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand kill-idle" -l match-command -l command -d 'Only sessions in this command, e.g. Sleep, Query (case-insensitive; repeat for several)' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand kill-idle" -l match-state -l state -d 'Only sessions whose state matches this regex (unanchored unless you anchor it)' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand kill-idle" -l match-info -d 'Only sessions whose query text (Info) matches this regex (unanchored unless you anchor it, e.g. \'^SELECT\'; use (?i) for case-insensitive)' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand kill-idle" -l min-time -d 'Only sessions at least this long in their current state (e.g. 30s, 5m)' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand kill-idle" -l exclude-user -d 'Never kill sessions of this user: `app` (any host) or `app@10.0.0.7`, the user@host form conncheck prints (host without the client\'s port; `app@%` is any host). `a@b` is always the user `a` from host `b`: quote a user name that holds `@`, as in SQL (`\'a@b\'@\'%\'`). Repeat for several' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand kill-idle" -l id -d 'Only the session with this processlist id (repeat for several): how a verdict\'s relief names the sessions it ends. The threshold and filters still apply, and each session is re-checked before its KILL' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand kill-idle" -l limit -d 'Kill at most this many sessions, oldest first' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand kill-idle" -l with-open-trx -d 'Sessions holding an open transaction: include (default; they roll back first), only, skip' -r -f -a "include\t'Kill sessions whether or not they hold an open transaction (the plan warns about rollbacks)'
only\t'Only sessions that hold an open transaction'
skip\t'Never sessions that hold an open transaction'"
complete -c conncheck -n "__fish_conncheck_using_subcommand kill-idle" -l trx-older-than -d 'Only sessions whose open transaction is at least this old (INNODB_TRX trx_started), however long they have been idle or running; sessions without one are left alone' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand kill-idle" -l repeat -d 'Repeat the selection and kill every DUR (with --for), like a bounded pt-kill daemon' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand kill-idle" -l for -d 'How long to keep repeating (with --repeat)' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand kill-idle" -l log -d 'Append the plan and the results as JSON lines to this file (an audit log)' -r -F
complete -c conncheck -n "__fish_conncheck_using_subcommand kill-idle" -l format -d 'Output format' -r -f -a "table\t'Human-readable tables'
json\t'Versioned JSON (every field: docs/json.md)'"
complete -c conncheck -n "__fish_conncheck_using_subcommand kill-idle" -s h -l host -d 'Server host name or IP. `localhost` means the Unix socket, `127.0.0.1` means TCP (as in mysql). Environment: MYSQL_HOST' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand kill-idle" -s P -l port -d 'TCP port [default: 3306]. Environment: MYSQL_TCP_PORT' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand kill-idle" -s u -l user -d 'User name [default: your login name]' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand kill-idle" -s p -l password -d 'Password. A bare -p prompts with hidden input; a value must be attached: -pSECRET or --password=SECRET (prints a warning, as mysql does). Prefer ~/.my.cnf or MYSQL_PWD' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand kill-idle" -s S -l socket -d 'Unix socket file (used when the host is localhost or not given). Environment: MYSQL_UNIX_PORT' -r -F
complete -c conncheck -n "__fish_conncheck_using_subcommand kill-idle" -s D -l database -d 'Default database for the session' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand kill-idle" -l protocol -d 'Force the transport: tcp, or socket. By default localhost uses the socket, anything else TCP' -r -f -a "tcp\t''
socket\t''"
complete -c conncheck -n "__fish_conncheck_using_subcommand kill-idle" -l url -d 'Connection URL: mysql://user:pass@host:port/db (also mariadb://). Repeat it to check several servers at once (status, check, diagnose)' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand kill-idle" -l targets -d 'File with one target per line (a URL or host[:port]; # starts a comment). Credentials for host[:port] lines come from option files and the environment' -r -F
complete -c conncheck -n "__fish_conncheck_using_subcommand kill-idle" -l jobs -d 'How many targets to read at once when there are several (each has its own connection and timeouts). Connecting is apart: up to 1,024 connection attempts run at once (fewer when the open-files limit is lower), so servers that never answer delay no other' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand kill-idle" -l deadline -d 'With several targets, stop after this long: the targets not finished by then are reported UNKNOWN (check) or as a timeout (status, diagnose), with what they were still doing. Default: wait for every target (each is bounded by its own timeouts)' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand kill-idle" -l defaults-file -d 'Read options only from this file (no other option files)' -r -F
complete -c conncheck -n "__fish_conncheck_using_subcommand kill-idle" -l defaults-extra-file -d 'Read this option file after the usual ones' -r -F
complete -c conncheck -n "__fish_conncheck_using_subcommand kill-idle" -l login-path -d 'Also read option group [NAME] of every option file and of the login path file ~/.mylogin.cnf (written by `mysql_config_editor set --login-path=NAME`)' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand kill-idle" -l ssl-mode -d 'TLS: DISABLED, PREFERRED (default: TLS when offered; loopback and sockets stay plain), REQUIRED, VERIFY_CA, VERIFY_IDENTITY. TLS never applies to a Unix socket' -r -f -a "DISABLED\t''
PREFERRED\t''
REQUIRED\t''
VERIFY_CA\t''
VERIFY_IDENTITY\t''"
complete -c conncheck -n "__fish_conncheck_using_subcommand kill-idle" -l ssl-ca -d 'CA certificate file (PEM) for VERIFY_CA / VERIFY_IDENTITY' -r -F
complete -c conncheck -n "__fish_conncheck_using_subcommand kill-idle" -l ssl-cert -d 'Client certificate (PEM) for TLS client authentication' -r -F
complete -c conncheck -n "__fish_conncheck_using_subcommand kill-idle" -l ssl-key -d 'Client private key (PEM) for TLS client authentication' -r -F
complete -c conncheck -n "__fish_conncheck_using_subcommand kill-idle" -l server-public-key-path -d 'The server\'s RSA public key (PEM, its public_key.pem), for a caching_sha2_password account over TCP without TLS: when the server asks for the password itself, it is encrypted with this key. Without it (or TLS, a socket, --get-server-public-key) conncheck refuses (exit 19)' -r -F
complete -c conncheck -n "__fish_conncheck_using_subcommand kill-idle" -l connect-timeout -d 'Give up connecting after this long (TCP connect, greeting and login together)' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand kill-idle" -l query-timeout -d 'Give up on any single query after this long (network read/write timeout; our statements also get a server-side limit so they never pile up on a sick server)' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand kill-idle" -l admin-port -d 'Try this port first: MySQL\'s admin_port (33062) or MariaDB\'s extra_port, which keep working when max_connections is reached. Falls back to the normal port' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand kill-idle" -l color -d 'When to use colors: auto (a terminal, NO_COLOR unset, TERM not dumb), always, never' -r -f -a "auto\t''
always\t''
never\t''"
complete -c conncheck -n "__fish_conncheck_using_subcommand kill-idle" -l include-pools -d 'Kill connections of fixed-size pools too (one client\'s connections opened together and idle together): left out by default, since the pool reopens them at once'
complete -c conncheck -n "__fish_conncheck_using_subcommand kill-idle" -l sleeping -d 'Only sleeping (idle) sessions'
complete -c conncheck -n "__fish_conncheck_using_subcommand kill-idle" -l busy -d 'Only busy (non-Sleep) sessions'
complete -c conncheck -n "__fish_conncheck_using_subcommand kill-idle" -s n -l dry-run -d 'Show the plan and kill nothing'
complete -c conncheck -n "__fish_conncheck_using_subcommand kill-idle" -s y -l yes -d 'Do not ask for confirmation (needed when there is no terminal)'
complete -c conncheck -n "__fish_conncheck_using_subcommand kill-idle" -l rds -d 'Use Amazon RDS procedures (CALL mysql.rds_kill) even if RDS is not detected'
complete -c conncheck -n "__fish_conncheck_using_subcommand kill-idle" -l allow-replication -d 'Also allow killing replication threads (Binlog Dump, replica threads). Dangerous'
complete -c conncheck -n "__fish_conncheck_using_subcommand kill-idle" -l allow-system -d 'Also allow killing system threads (system user, event_scheduler). Dangerous'
complete -c conncheck -n "__fish_conncheck_using_subcommand kill-idle" -l no-defaults -d 'Read no option files (the login path file ~/.mylogin.cnf is still read, as MySQL does; --no-login-paths skips it)'
complete -c conncheck -n "__fish_conncheck_using_subcommand kill-idle" -l no-login-paths -d 'Do not read the login path file ~/.mylogin.cnf ($MYSQL_TEST_LOGIN_FILE)'
complete -c conncheck -n "__fish_conncheck_using_subcommand kill-idle" -l get-server-public-key -d 'Over TCP without TLS, let a caching_sha2_password login ask the server for its RSA public key and encrypt the password with it. The key is not verified: whoever answers in the server\'s place receives the password. Prefer TLS or --server-public-key-path'
complete -c conncheck -n "__fish_conncheck_using_subcommand kill-idle" -l debug -d 'Log every statement sent to the server, with its round-trip time, on stderr (never the password: it is not part of any statement)'
complete -c conncheck -n "__fish_conncheck_using_subcommand kill-idle" -l help -d 'Print help (-h is the host, as in the mysql client)'
complete -c conncheck -n "__fish_conncheck_using_subcommand kill-long" -l longer-than -d 'Kill statements running at least this long, e.g. 60s or 2m' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand kill-long" -l match-user -d 'Only sessions of this user: `app` (any host) or `app@10.0.0.7`, the user@host form conncheck prints (host without the client\'s port; `app@%` is any host). `a@b` is always the user `a` from host `b`: quote a user name that holds `@`, as in SQL (`\'a@b\'@\'%\'`). Exact match; repeat for several' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand kill-long" -l match-host -d 'Only sessions from this client host (exact match, without the :port; repeat for several)' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand kill-long" -l match-db -l db -d 'Only sessions whose default database is this (exact; repeat for several)' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand kill-long" -l match-command -l command -d 'Only sessions in this command, e.g. Sleep, Query (case-insensitive; repeat for several)' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand kill-long" -l match-state -l state -d 'Only sessions whose state matches this regex (unanchored unless you anchor it)' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand kill-long" -l match-info -d 'Only sessions whose query text (Info) matches this regex (unanchored unless you anchor it, e.g. \'^SELECT\'; use (?i) for case-insensitive)' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand kill-long" -l min-time -d 'Only sessions at least this long in their current state (e.g. 30s, 5m)' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand kill-long" -l exclude-user -d 'Never kill sessions of this user: `app` (any host) or `app@10.0.0.7`, the user@host form conncheck prints (host without the client\'s port; `app@%` is any host). `a@b` is always the user `a` from host `b`: quote a user name that holds `@`, as in SQL (`\'a@b\'@\'%\'`). Repeat for several' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand kill-long" -l id -d 'Only the session with this processlist id (repeat for several): how a verdict\'s relief names the sessions it ends. The threshold and filters still apply, and each session is re-checked before its KILL' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand kill-long" -l limit -d 'Kill at most this many sessions, oldest first' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand kill-long" -l with-open-trx -d 'Sessions holding an open transaction: include (default; they roll back first), only, skip' -r -f -a "include\t'Kill sessions whether or not they hold an open transaction (the plan warns about rollbacks)'
only\t'Only sessions that hold an open transaction'
skip\t'Never sessions that hold an open transaction'"
complete -c conncheck -n "__fish_conncheck_using_subcommand kill-long" -l trx-older-than -d 'Only sessions whose open transaction is at least this old (INNODB_TRX trx_started), however long they have been idle or running; sessions without one are left alone' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand kill-long" -l repeat -d 'Repeat the selection and kill every DUR (with --for), like a bounded pt-kill daemon' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand kill-long" -l for -d 'How long to keep repeating (with --repeat)' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand kill-long" -l log -d 'Append the plan and the results as JSON lines to this file (an audit log)' -r -F
complete -c conncheck -n "__fish_conncheck_using_subcommand kill-long" -l format -d 'Output format' -r -f -a "table\t'Human-readable tables'
json\t'Versioned JSON (every field: docs/json.md)'"
complete -c conncheck -n "__fish_conncheck_using_subcommand kill-long" -s h -l host -d 'Server host name or IP. `localhost` means the Unix socket, `127.0.0.1` means TCP (as in mysql). Environment: MYSQL_HOST' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand kill-long" -s P -l port -d 'TCP port [default: 3306]. Environment: MYSQL_TCP_PORT' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand kill-long" -s u -l user -d 'User name [default: your login name]' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand kill-long" -s p -l password -d 'Password. A bare -p prompts with hidden input; a value must be attached: -pSECRET or --password=SECRET (prints a warning, as mysql does). Prefer ~/.my.cnf or MYSQL_PWD' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand kill-long" -s S -l socket -d 'Unix socket file (used when the host is localhost or not given). Environment: MYSQL_UNIX_PORT' -r -F
complete -c conncheck -n "__fish_conncheck_using_subcommand kill-long" -s D -l database -d 'Default database for the session' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand kill-long" -l protocol -d 'Force the transport: tcp, or socket. By default localhost uses the socket, anything else TCP' -r -f -a "tcp\t''
socket\t''"
complete -c conncheck -n "__fish_conncheck_using_subcommand kill-long" -l url -d 'Connection URL: mysql://user:pass@host:port/db (also mariadb://). Repeat it to check several servers at once (status, check, diagnose)' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand kill-long" -l targets -d 'File with one target per line (a URL or host[:port]; # starts a comment). Credentials for host[:port] lines come from option files and the environment' -r -F
complete -c conncheck -n "__fish_conncheck_using_subcommand kill-long" -l jobs -d 'How many targets to read at once when there are several (each has its own connection and timeouts). Connecting is apart: up to 1,024 connection attempts run at once (fewer when the open-files limit is lower), so servers that never answer delay no other' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand kill-long" -l deadline -d 'With several targets, stop after this long: the targets not finished by then are reported UNKNOWN (check) or as a timeout (status, diagnose), with what they were still doing. Default: wait for every target (each is bounded by its own timeouts)' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand kill-long" -l defaults-file -d 'Read options only from this file (no other option files)' -r -F
complete -c conncheck -n "__fish_conncheck_using_subcommand kill-long" -l defaults-extra-file -d 'Read this option file after the usual ones' -r -F
complete -c conncheck -n "__fish_conncheck_using_subcommand kill-long" -l login-path -d 'Also read option group [NAME] of every option file and of the login path file ~/.mylogin.cnf (written by `mysql_config_editor set --login-path=NAME`)' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand kill-long" -l ssl-mode -d 'TLS: DISABLED, PREFERRED (default: TLS when offered; loopback and sockets stay plain), REQUIRED, VERIFY_CA, VERIFY_IDENTITY. TLS never applies to a Unix socket' -r -f -a "DISABLED\t''
PREFERRED\t''
REQUIRED\t''
VERIFY_CA\t''
VERIFY_IDENTITY\t''"
complete -c conncheck -n "__fish_conncheck_using_subcommand kill-long" -l ssl-ca -d 'CA certificate file (PEM) for VERIFY_CA / VERIFY_IDENTITY' -r -F
complete -c conncheck -n "__fish_conncheck_using_subcommand kill-long" -l ssl-cert -d 'Client certificate (PEM) for TLS client authentication' -r -F
complete -c conncheck -n "__fish_conncheck_using_subcommand kill-long" -l ssl-key -d 'Client private key (PEM) for TLS client authentication' -r -F
complete -c conncheck -n "__fish_conncheck_using_subcommand kill-long" -l server-public-key-path -d 'The server\'s RSA public key (PEM, its public_key.pem), for a caching_sha2_password account over TCP without TLS: when the server asks for the password itself, it is encrypted with this key. Without it (or TLS, a socket, --get-server-public-key) conncheck refuses (exit 19)' -r -F
complete -c conncheck -n "__fish_conncheck_using_subcommand kill-long" -l connect-timeout -d 'Give up connecting after this long (TCP connect, greeting and login together)' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand kill-long" -l query-timeout -d 'Give up on any single query after this long (network read/write timeout; our statements also get a server-side limit so they never pile up on a sick server)' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand kill-long" -l admin-port -d 'Try this port first: MySQL\'s admin_port (33062) or MariaDB\'s extra_port, which keep working when max_connections is reached. Falls back to the normal port' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand kill-long" -l color -d 'When to use colors: auto (a terminal, NO_COLOR unset, TERM not dumb), always, never' -r -f -a "auto\t''
always\t''
never\t''"
complete -c conncheck -n "__fish_conncheck_using_subcommand kill-long" -l query-only -d 'Kill only the running statement (KILL QUERY) and keep the connection'
complete -c conncheck -n "__fish_conncheck_using_subcommand kill-long" -l sleeping -d 'Only sleeping (idle) sessions'
complete -c conncheck -n "__fish_conncheck_using_subcommand kill-long" -l busy -d 'Only busy (non-Sleep) sessions'
complete -c conncheck -n "__fish_conncheck_using_subcommand kill-long" -s n -l dry-run -d 'Show the plan and kill nothing'
complete -c conncheck -n "__fish_conncheck_using_subcommand kill-long" -s y -l yes -d 'Do not ask for confirmation (needed when there is no terminal)'
complete -c conncheck -n "__fish_conncheck_using_subcommand kill-long" -l rds -d 'Use Amazon RDS procedures (CALL mysql.rds_kill) even if RDS is not detected'
complete -c conncheck -n "__fish_conncheck_using_subcommand kill-long" -l allow-replication -d 'Also allow killing replication threads (Binlog Dump, replica threads). Dangerous'
complete -c conncheck -n "__fish_conncheck_using_subcommand kill-long" -l allow-system -d 'Also allow killing system threads (system user, event_scheduler). Dangerous'
complete -c conncheck -n "__fish_conncheck_using_subcommand kill-long" -l no-defaults -d 'Read no option files (the login path file ~/.mylogin.cnf is still read, as MySQL does; --no-login-paths skips it)'
complete -c conncheck -n "__fish_conncheck_using_subcommand kill-long" -l no-login-paths -d 'Do not read the login path file ~/.mylogin.cnf ($MYSQL_TEST_LOGIN_FILE)'
complete -c conncheck -n "__fish_conncheck_using_subcommand kill-long" -l get-server-public-key -d 'Over TCP without TLS, let a caching_sha2_password login ask the server for its RSA public key and encrypt the password with it. The key is not verified: whoever answers in the server\'s place receives the password. Prefer TLS or --server-public-key-path'
complete -c conncheck -n "__fish_conncheck_using_subcommand kill-long" -l debug -d 'Log every statement sent to the server, with its round-trip time, on stderr (never the password: it is not part of any statement)'
complete -c conncheck -n "__fish_conncheck_using_subcommand kill-long" -l help -d 'Print help (-h is the host, as in the mysql client)'
complete -c conncheck -n "__fish_conncheck_using_subcommand set-timeouts" -l wait-timeout -d 'New global wait_timeout (idle limit of non-interactive clients), e.g. 300s: whole seconds, at least 1s; below 10s needs --force' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand set-timeouts" -l interactive-timeout -d 'New global interactive_timeout (idle limit of interactive clients such as mysql): whole seconds, at least 1s; below 10s needs --force' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand set-timeouts" -l format -d 'Output format' -r -f -a "table\t'Human-readable tables'
json\t'Versioned JSON (every field: docs/json.md)'"
complete -c conncheck -n "__fish_conncheck_using_subcommand set-timeouts" -s h -l host -d 'Server host name or IP. `localhost` means the Unix socket, `127.0.0.1` means TCP (as in mysql). Environment: MYSQL_HOST' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand set-timeouts" -s P -l port -d 'TCP port [default: 3306]. Environment: MYSQL_TCP_PORT' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand set-timeouts" -s u -l user -d 'User name [default: your login name]' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand set-timeouts" -s p -l password -d 'Password. A bare -p prompts with hidden input; a value must be attached: -pSECRET or --password=SECRET (prints a warning, as mysql does). Prefer ~/.my.cnf or MYSQL_PWD' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand set-timeouts" -s S -l socket -d 'Unix socket file (used when the host is localhost or not given). Environment: MYSQL_UNIX_PORT' -r -F
complete -c conncheck -n "__fish_conncheck_using_subcommand set-timeouts" -s D -l database -d 'Default database for the session' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand set-timeouts" -l protocol -d 'Force the transport: tcp, or socket. By default localhost uses the socket, anything else TCP' -r -f -a "tcp\t''
socket\t''"
complete -c conncheck -n "__fish_conncheck_using_subcommand set-timeouts" -l url -d 'Connection URL: mysql://user:pass@host:port/db (also mariadb://). Repeat it to check several servers at once (status, check, diagnose)' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand set-timeouts" -l targets -d 'File with one target per line (a URL or host[:port]; # starts a comment). Credentials for host[:port] lines come from option files and the environment' -r -F
complete -c conncheck -n "__fish_conncheck_using_subcommand set-timeouts" -l jobs -d 'How many targets to read at once when there are several (each has its own connection and timeouts). Connecting is apart: up to 1,024 connection attempts run at once (fewer when the open-files limit is lower), so servers that never answer delay no other' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand set-timeouts" -l deadline -d 'With several targets, stop after this long: the targets not finished by then are reported UNKNOWN (check) or as a timeout (status, diagnose), with what they were still doing. Default: wait for every target (each is bounded by its own timeouts)' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand set-timeouts" -l defaults-file -d 'Read options only from this file (no other option files)' -r -F
complete -c conncheck -n "__fish_conncheck_using_subcommand set-timeouts" -l defaults-extra-file -d 'Read this option file after the usual ones' -r -F
complete -c conncheck -n "__fish_conncheck_using_subcommand set-timeouts" -l login-path -d 'Also read option group [NAME] of every option file and of the login path file ~/.mylogin.cnf (written by `mysql_config_editor set --login-path=NAME`)' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand set-timeouts" -l ssl-mode -d 'TLS: DISABLED, PREFERRED (default: TLS when offered; loopback and sockets stay plain), REQUIRED, VERIFY_CA, VERIFY_IDENTITY. TLS never applies to a Unix socket' -r -f -a "DISABLED\t''
PREFERRED\t''
REQUIRED\t''
VERIFY_CA\t''
VERIFY_IDENTITY\t''"
complete -c conncheck -n "__fish_conncheck_using_subcommand set-timeouts" -l ssl-ca -d 'CA certificate file (PEM) for VERIFY_CA / VERIFY_IDENTITY' -r -F
complete -c conncheck -n "__fish_conncheck_using_subcommand set-timeouts" -l ssl-cert -d 'Client certificate (PEM) for TLS client authentication' -r -F
complete -c conncheck -n "__fish_conncheck_using_subcommand set-timeouts" -l ssl-key -d 'Client private key (PEM) for TLS client authentication' -r -F
complete -c conncheck -n "__fish_conncheck_using_subcommand set-timeouts" -l server-public-key-path -d 'The server\'s RSA public key (PEM, its public_key.pem), for a caching_sha2_password account over TCP without TLS: when the server asks for the password itself, it is encrypted with this key. Without it (or TLS, a socket, --get-server-public-key) conncheck refuses (exit 19)' -r -F
complete -c conncheck -n "__fish_conncheck_using_subcommand set-timeouts" -l connect-timeout -d 'Give up connecting after this long (TCP connect, greeting and login together)' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand set-timeouts" -l query-timeout -d 'Give up on any single query after this long (network read/write timeout; our statements also get a server-side limit so they never pile up on a sick server)' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand set-timeouts" -l admin-port -d 'Try this port first: MySQL\'s admin_port (33062) or MariaDB\'s extra_port, which keep working when max_connections is reached. Falls back to the normal port' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand set-timeouts" -l color -d 'When to use colors: auto (a terminal, NO_COLOR unset, TERM not dumb), always, never' -r -f -a "auto\t''
always\t''
never\t''"
complete -c conncheck -n "__fish_conncheck_using_subcommand set-timeouts" -l force -d 'Allow a timeout below 10s: every client that pauses that long between two statements (a pool between borrows, a person at a prompt) is disconnected by the server'
complete -c conncheck -n "__fish_conncheck_using_subcommand set-timeouts" -l kill-existing -d 'Also kill sessions already idle longer than the new timeout (the new value only applies to new sessions)'
complete -c conncheck -n "__fish_conncheck_using_subcommand set-timeouts" -s n -l dry-run -d 'Show the plan and change nothing'
complete -c conncheck -n "__fish_conncheck_using_subcommand set-timeouts" -s y -l yes -d 'Do not ask for confirmation (needed when there is no terminal)'
complete -c conncheck -n "__fish_conncheck_using_subcommand set-timeouts" -l persist -d 'Make the change survive a restart: SET PERSIST on MySQL 8; on MariaDB print the my.cnf snippet to add'
complete -c conncheck -n "__fish_conncheck_using_subcommand set-timeouts" -l no-defaults -d 'Read no option files (the login path file ~/.mylogin.cnf is still read, as MySQL does; --no-login-paths skips it)'
complete -c conncheck -n "__fish_conncheck_using_subcommand set-timeouts" -l no-login-paths -d 'Do not read the login path file ~/.mylogin.cnf ($MYSQL_TEST_LOGIN_FILE)'
complete -c conncheck -n "__fish_conncheck_using_subcommand set-timeouts" -l get-server-public-key -d 'Over TCP without TLS, let a caching_sha2_password login ask the server for its RSA public key and encrypt the password with it. The key is not verified: whoever answers in the server\'s place receives the password. Prefer TLS or --server-public-key-path'
complete -c conncheck -n "__fish_conncheck_using_subcommand set-timeouts" -l debug -d 'Log every statement sent to the server, with its round-trip time, on stderr (never the password: it is not part of any statement)'
complete -c conncheck -n "__fish_conncheck_using_subcommand set-timeouts" -l help -d 'Print help (-h is the host, as in the mysql client)'
complete -c conncheck -n "__fish_conncheck_using_subcommand set-max-connections" -l server-memory -d 'Server RAM in bytes (K/M/G/T suffixes) for the memory estimate' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand set-max-connections" -l format -d 'Output format' -r -f -a "table\t'Human-readable tables'
json\t'Versioned JSON (every field: docs/json.md)'"
complete -c conncheck -n "__fish_conncheck_using_subcommand set-max-connections" -s h -l host -d 'Server host name or IP. `localhost` means the Unix socket, `127.0.0.1` means TCP (as in mysql). Environment: MYSQL_HOST' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand set-max-connections" -s P -l port -d 'TCP port [default: 3306]. Environment: MYSQL_TCP_PORT' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand set-max-connections" -s u -l user -d 'User name [default: your login name]' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand set-max-connections" -s p -l password -d 'Password. A bare -p prompts with hidden input; a value must be attached: -pSECRET or --password=SECRET (prints a warning, as mysql does). Prefer ~/.my.cnf or MYSQL_PWD' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand set-max-connections" -s S -l socket -d 'Unix socket file (used when the host is localhost or not given). Environment: MYSQL_UNIX_PORT' -r -F
complete -c conncheck -n "__fish_conncheck_using_subcommand set-max-connections" -s D -l database -d 'Default database for the session' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand set-max-connections" -l protocol -d 'Force the transport: tcp, or socket. By default localhost uses the socket, anything else TCP' -r -f -a "tcp\t''
socket\t''"
complete -c conncheck -n "__fish_conncheck_using_subcommand set-max-connections" -l url -d 'Connection URL: mysql://user:pass@host:port/db (also mariadb://). Repeat it to check several servers at once (status, check, diagnose)' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand set-max-connections" -l targets -d 'File with one target per line (a URL or host[:port]; # starts a comment). Credentials for host[:port] lines come from option files and the environment' -r -F
complete -c conncheck -n "__fish_conncheck_using_subcommand set-max-connections" -l jobs -d 'How many targets to read at once when there are several (each has its own connection and timeouts). Connecting is apart: up to 1,024 connection attempts run at once (fewer when the open-files limit is lower), so servers that never answer delay no other' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand set-max-connections" -l deadline -d 'With several targets, stop after this long: the targets not finished by then are reported UNKNOWN (check) or as a timeout (status, diagnose), with what they were still doing. Default: wait for every target (each is bounded by its own timeouts)' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand set-max-connections" -l defaults-file -d 'Read options only from this file (no other option files)' -r -F
complete -c conncheck -n "__fish_conncheck_using_subcommand set-max-connections" -l defaults-extra-file -d 'Read this option file after the usual ones' -r -F
complete -c conncheck -n "__fish_conncheck_using_subcommand set-max-connections" -l login-path -d 'Also read option group [NAME] of every option file and of the login path file ~/.mylogin.cnf (written by `mysql_config_editor set --login-path=NAME`)' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand set-max-connections" -l ssl-mode -d 'TLS: DISABLED, PREFERRED (default: TLS when offered; loopback and sockets stay plain), REQUIRED, VERIFY_CA, VERIFY_IDENTITY. TLS never applies to a Unix socket' -r -f -a "DISABLED\t''
PREFERRED\t''
REQUIRED\t''
VERIFY_CA\t''
VERIFY_IDENTITY\t''"
complete -c conncheck -n "__fish_conncheck_using_subcommand set-max-connections" -l ssl-ca -d 'CA certificate file (PEM) for VERIFY_CA / VERIFY_IDENTITY' -r -F
complete -c conncheck -n "__fish_conncheck_using_subcommand set-max-connections" -l ssl-cert -d 'Client certificate (PEM) for TLS client authentication' -r -F
complete -c conncheck -n "__fish_conncheck_using_subcommand set-max-connections" -l ssl-key -d 'Client private key (PEM) for TLS client authentication' -r -F
complete -c conncheck -n "__fish_conncheck_using_subcommand set-max-connections" -l server-public-key-path -d 'The server\'s RSA public key (PEM, its public_key.pem), for a caching_sha2_password account over TCP without TLS: when the server asks for the password itself, it is encrypted with this key. Without it (or TLS, a socket, --get-server-public-key) conncheck refuses (exit 19)' -r -F
complete -c conncheck -n "__fish_conncheck_using_subcommand set-max-connections" -l connect-timeout -d 'Give up connecting after this long (TCP connect, greeting and login together)' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand set-max-connections" -l query-timeout -d 'Give up on any single query after this long (network read/write timeout; our statements also get a server-side limit so they never pile up on a sick server)' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand set-max-connections" -l admin-port -d 'Try this port first: MySQL\'s admin_port (33062) or MariaDB\'s extra_port, which keep working when max_connections is reached. Falls back to the normal port' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand set-max-connections" -l color -d 'When to use colors: auto (a terminal, NO_COLOR unset, TERM not dumb), always, never' -r -f -a "auto\t''
always\t''
never\t''"
complete -c conncheck -n "__fish_conncheck_using_subcommand set-max-connections" -l force -d 'Apply even if the open-files limit cannot hold the new value'
complete -c conncheck -n "__fish_conncheck_using_subcommand set-max-connections" -s n -l dry-run -d 'Show the plan and change nothing'
complete -c conncheck -n "__fish_conncheck_using_subcommand set-max-connections" -s y -l yes -d 'Do not ask for confirmation (needed when there is no terminal)'
complete -c conncheck -n "__fish_conncheck_using_subcommand set-max-connections" -l persist -d 'Make the change survive a restart: SET PERSIST on MySQL 8; on MariaDB print the my.cnf snippet to add'
complete -c conncheck -n "__fish_conncheck_using_subcommand set-max-connections" -l no-defaults -d 'Read no option files (the login path file ~/.mylogin.cnf is still read, as MySQL does; --no-login-paths skips it)'
complete -c conncheck -n "__fish_conncheck_using_subcommand set-max-connections" -l no-login-paths -d 'Do not read the login path file ~/.mylogin.cnf ($MYSQL_TEST_LOGIN_FILE)'
complete -c conncheck -n "__fish_conncheck_using_subcommand set-max-connections" -l get-server-public-key -d 'Over TCP without TLS, let a caching_sha2_password login ask the server for its RSA public key and encrypt the password with it. The key is not verified: whoever answers in the server\'s place receives the password. Prefer TLS or --server-public-key-path'
complete -c conncheck -n "__fish_conncheck_using_subcommand set-max-connections" -l debug -d 'Log every statement sent to the server, with its round-trip time, on stderr (never the password: it is not part of any statement)'
complete -c conncheck -n "__fish_conncheck_using_subcommand set-max-connections" -l help -d 'Print help (-h is the host, as in the mysql client)'
complete -c conncheck -n "__fish_conncheck_using_subcommand set-slow-log" -l long-query-time -d 'Also set long_query_time (e.g. 1s, 500ms)' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand set-slow-log" -l format -d 'Output format' -r -f -a "table\t'Human-readable tables'
json\t'Versioned JSON (every field: docs/json.md)'"
complete -c conncheck -n "__fish_conncheck_using_subcommand set-slow-log" -s h -l host -d 'Server host name or IP. `localhost` means the Unix socket, `127.0.0.1` means TCP (as in mysql). Environment: MYSQL_HOST' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand set-slow-log" -s P -l port -d 'TCP port [default: 3306]. Environment: MYSQL_TCP_PORT' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand set-slow-log" -s u -l user -d 'User name [default: your login name]' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand set-slow-log" -s p -l password -d 'Password. A bare -p prompts with hidden input; a value must be attached: -pSECRET or --password=SECRET (prints a warning, as mysql does). Prefer ~/.my.cnf or MYSQL_PWD' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand set-slow-log" -s S -l socket -d 'Unix socket file (used when the host is localhost or not given). Environment: MYSQL_UNIX_PORT' -r -F
complete -c conncheck -n "__fish_conncheck_using_subcommand set-slow-log" -s D -l database -d 'Default database for the session' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand set-slow-log" -l protocol -d 'Force the transport: tcp, or socket. By default localhost uses the socket, anything else TCP' -r -f -a "tcp\t''
socket\t''"
complete -c conncheck -n "__fish_conncheck_using_subcommand set-slow-log" -l url -d 'Connection URL: mysql://user:pass@host:port/db (also mariadb://). Repeat it to check several servers at once (status, check, diagnose)' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand set-slow-log" -l targets -d 'File with one target per line (a URL or host[:port]; # starts a comment). Credentials for host[:port] lines come from option files and the environment' -r -F
complete -c conncheck -n "__fish_conncheck_using_subcommand set-slow-log" -l jobs -d 'How many targets to read at once when there are several (each has its own connection and timeouts). Connecting is apart: up to 1,024 connection attempts run at once (fewer when the open-files limit is lower), so servers that never answer delay no other' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand set-slow-log" -l deadline -d 'With several targets, stop after this long: the targets not finished by then are reported UNKNOWN (check) or as a timeout (status, diagnose), with what they were still doing. Default: wait for every target (each is bounded by its own timeouts)' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand set-slow-log" -l defaults-file -d 'Read options only from this file (no other option files)' -r -F
complete -c conncheck -n "__fish_conncheck_using_subcommand set-slow-log" -l defaults-extra-file -d 'Read this option file after the usual ones' -r -F
complete -c conncheck -n "__fish_conncheck_using_subcommand set-slow-log" -l login-path -d 'Also read option group [NAME] of every option file and of the login path file ~/.mylogin.cnf (written by `mysql_config_editor set --login-path=NAME`)' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand set-slow-log" -l ssl-mode -d 'TLS: DISABLED, PREFERRED (default: TLS when offered; loopback and sockets stay plain), REQUIRED, VERIFY_CA, VERIFY_IDENTITY. TLS never applies to a Unix socket' -r -f -a "DISABLED\t''
PREFERRED\t''
REQUIRED\t''
VERIFY_CA\t''
VERIFY_IDENTITY\t''"
complete -c conncheck -n "__fish_conncheck_using_subcommand set-slow-log" -l ssl-ca -d 'CA certificate file (PEM) for VERIFY_CA / VERIFY_IDENTITY' -r -F
complete -c conncheck -n "__fish_conncheck_using_subcommand set-slow-log" -l ssl-cert -d 'Client certificate (PEM) for TLS client authentication' -r -F
complete -c conncheck -n "__fish_conncheck_using_subcommand set-slow-log" -l ssl-key -d 'Client private key (PEM) for TLS client authentication' -r -F
complete -c conncheck -n "__fish_conncheck_using_subcommand set-slow-log" -l server-public-key-path -d 'The server\'s RSA public key (PEM, its public_key.pem), for a caching_sha2_password account over TCP without TLS: when the server asks for the password itself, it is encrypted with this key. Without it (or TLS, a socket, --get-server-public-key) conncheck refuses (exit 19)' -r -F
complete -c conncheck -n "__fish_conncheck_using_subcommand set-slow-log" -l connect-timeout -d 'Give up connecting after this long (TCP connect, greeting and login together)' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand set-slow-log" -l query-timeout -d 'Give up on any single query after this long (network read/write timeout; our statements also get a server-side limit so they never pile up on a sick server)' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand set-slow-log" -l admin-port -d 'Try this port first: MySQL\'s admin_port (33062) or MariaDB\'s extra_port, which keep working when max_connections is reached. Falls back to the normal port' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand set-slow-log" -l color -d 'When to use colors: auto (a terminal, NO_COLOR unset, TERM not dumb), always, never' -r -f -a "auto\t''
always\t''
never\t''"
complete -c conncheck -n "__fish_conncheck_using_subcommand set-slow-log" -s n -l dry-run -d 'Show the plan and change nothing'
complete -c conncheck -n "__fish_conncheck_using_subcommand set-slow-log" -s y -l yes -d 'Do not ask for confirmation (needed when there is no terminal)'
complete -c conncheck -n "__fish_conncheck_using_subcommand set-slow-log" -l persist -d 'Make the change survive a restart: SET PERSIST on MySQL 8; on MariaDB print the my.cnf snippet to add'
complete -c conncheck -n "__fish_conncheck_using_subcommand set-slow-log" -l no-defaults -d 'Read no option files (the login path file ~/.mylogin.cnf is still read, as MySQL does; --no-login-paths skips it)'
complete -c conncheck -n "__fish_conncheck_using_subcommand set-slow-log" -l no-login-paths -d 'Do not read the login path file ~/.mylogin.cnf ($MYSQL_TEST_LOGIN_FILE)'
complete -c conncheck -n "__fish_conncheck_using_subcommand set-slow-log" -l get-server-public-key -d 'Over TCP without TLS, let a caching_sha2_password login ask the server for its RSA public key and encrypt the password with it. The key is not verified: whoever answers in the server\'s place receives the password. Prefer TLS or --server-public-key-path'
complete -c conncheck -n "__fish_conncheck_using_subcommand set-slow-log" -l debug -d 'Log every statement sent to the server, with its round-trip time, on stderr (never the password: it is not part of any statement)'
complete -c conncheck -n "__fish_conncheck_using_subcommand set-slow-log" -l help -d 'Print help (-h is the host, as in the mysql client)'
complete -c conncheck -n "__fish_conncheck_using_subcommand check" -l idle-threshold -d 'A sleeping session idle this long counts as idle' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand check" -l long-query-threshold -d 'A statement running this long counts as long-running' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand check" -l trx-threshold -d 'A transaction open this long while its session sleeps counts as an idle transaction' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand check" -l warning -d 'Connection usage that is a warning: a percentage of max_connections (80%) or a count (400). Must be below --critical (a percentage and a count are compared on the server\'s max_connections)' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand check" -l critical -d 'Connection usage that is critical: a percentage of max_connections (90%, at most 100%) or a count' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand check" -l server-memory -d 'Server RAM in bytes, with K/M/G/T suffixes (e.g. 16G), for the memory estimate. Read from /proc/meminfo when the server is local; otherwise unknown' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand check" -l max-idle -d 'WARNING when more sessions than this are idle over --idle-threshold (CRITICAL over twice)' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand check" -l max-long -d 'WARNING when more statements than this run over --long-query-threshold' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand check" -l max-idle-trx -d 'WARNING when more sessions than this sit in a transaction over --trx-threshold' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand check" -l fail-on -d 'Also fail on any diagnose finding of this severity or worse' -r -f -a "warning\t''
critical\t''"
complete -c conncheck -n "__fish_conncheck_using_subcommand check" -l sample -d 'Read global status twice this far apart (clients refused during the sample, with ERROR 1040, 1203, 1226 or 1129, are CRITICAL)' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand check" -l forecast -d 'WARNING when the trend of Threads_connected reaches max_connections within this long (e.g. 15m); samples for --forecast-window' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand check" -l forecast-window -d 'How long --forecast watches the trend (Threads_connected about once a second)' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand check" -l format -d 'Output format' -r -f -a "nagios\t'Monitoring-plugin output: `CONNCHECK OK - ... | perfdata`'
json\t'JSON with state, reasons and metrics'
prometheus\t'Prometheus text exposition format (node_exporter textfile collector)'"
complete -c conncheck -n "__fish_conncheck_using_subcommand check" -s h -l host -d 'Server host name or IP. `localhost` means the Unix socket, `127.0.0.1` means TCP (as in mysql). Environment: MYSQL_HOST' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand check" -s P -l port -d 'TCP port [default: 3306]. Environment: MYSQL_TCP_PORT' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand check" -s u -l user -d 'User name [default: your login name]' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand check" -s p -l password -d 'Password. A bare -p prompts with hidden input; a value must be attached: -pSECRET or --password=SECRET (prints a warning, as mysql does). Prefer ~/.my.cnf or MYSQL_PWD' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand check" -s S -l socket -d 'Unix socket file (used when the host is localhost or not given). Environment: MYSQL_UNIX_PORT' -r -F
complete -c conncheck -n "__fish_conncheck_using_subcommand check" -s D -l database -d 'Default database for the session' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand check" -l protocol -d 'Force the transport: tcp, or socket. By default localhost uses the socket, anything else TCP' -r -f -a "tcp\t''
socket\t''"
complete -c conncheck -n "__fish_conncheck_using_subcommand check" -l url -d 'Connection URL: mysql://user:pass@host:port/db (also mariadb://). Repeat it to check several servers at once (status, check, diagnose)' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand check" -l targets -d 'File with one target per line (a URL or host[:port]; # starts a comment). Credentials for host[:port] lines come from option files and the environment' -r -F
complete -c conncheck -n "__fish_conncheck_using_subcommand check" -l jobs -d 'How many targets to read at once when there are several (each has its own connection and timeouts). Connecting is apart: up to 1,024 connection attempts run at once (fewer when the open-files limit is lower), so servers that never answer delay no other' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand check" -l deadline -d 'With several targets, stop after this long: the targets not finished by then are reported UNKNOWN (check) or as a timeout (status, diagnose), with what they were still doing. Default: wait for every target (each is bounded by its own timeouts)' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand check" -l defaults-file -d 'Read options only from this file (no other option files)' -r -F
complete -c conncheck -n "__fish_conncheck_using_subcommand check" -l defaults-extra-file -d 'Read this option file after the usual ones' -r -F
complete -c conncheck -n "__fish_conncheck_using_subcommand check" -l login-path -d 'Also read option group [NAME] of every option file and of the login path file ~/.mylogin.cnf (written by `mysql_config_editor set --login-path=NAME`)' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand check" -l ssl-mode -d 'TLS: DISABLED, PREFERRED (default: TLS when offered; loopback and sockets stay plain), REQUIRED, VERIFY_CA, VERIFY_IDENTITY. TLS never applies to a Unix socket' -r -f -a "DISABLED\t''
PREFERRED\t''
REQUIRED\t''
VERIFY_CA\t''
VERIFY_IDENTITY\t''"
complete -c conncheck -n "__fish_conncheck_using_subcommand check" -l ssl-ca -d 'CA certificate file (PEM) for VERIFY_CA / VERIFY_IDENTITY' -r -F
complete -c conncheck -n "__fish_conncheck_using_subcommand check" -l ssl-cert -d 'Client certificate (PEM) for TLS client authentication' -r -F
complete -c conncheck -n "__fish_conncheck_using_subcommand check" -l ssl-key -d 'Client private key (PEM) for TLS client authentication' -r -F
complete -c conncheck -n "__fish_conncheck_using_subcommand check" -l server-public-key-path -d 'The server\'s RSA public key (PEM, its public_key.pem), for a caching_sha2_password account over TCP without TLS: when the server asks for the password itself, it is encrypted with this key. Without it (or TLS, a socket, --get-server-public-key) conncheck refuses (exit 19)' -r -F
complete -c conncheck -n "__fish_conncheck_using_subcommand check" -l connect-timeout -d 'Give up connecting after this long (TCP connect, greeting and login together)' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand check" -l query-timeout -d 'Give up on any single query after this long (network read/write timeout; our statements also get a server-side limit so they never pile up on a sick server)' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand check" -l admin-port -d 'Try this port first: MySQL\'s admin_port (33062) or MariaDB\'s extra_port, which keep working when max_connections is reached. Falls back to the normal port' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand check" -l color -d 'When to use colors: auto (a terminal, NO_COLOR unset, TERM not dumb), always, never' -r -f -a "auto\t''
always\t''
never\t''"
complete -c conncheck -n "__fish_conncheck_using_subcommand check" -l no-defaults -d 'Read no option files (the login path file ~/.mylogin.cnf is still read, as MySQL does; --no-login-paths skips it)'
complete -c conncheck -n "__fish_conncheck_using_subcommand check" -l no-login-paths -d 'Do not read the login path file ~/.mylogin.cnf ($MYSQL_TEST_LOGIN_FILE)'
complete -c conncheck -n "__fish_conncheck_using_subcommand check" -l get-server-public-key -d 'Over TCP without TLS, let a caching_sha2_password login ask the server for its RSA public key and encrypt the password with it. The key is not verified: whoever answers in the server\'s place receives the password. Prefer TLS or --server-public-key-path'
complete -c conncheck -n "__fish_conncheck_using_subcommand check" -l debug -d 'Log every statement sent to the server, with its round-trip time, on stderr (never the password: it is not part of any statement)'
complete -c conncheck -n "__fish_conncheck_using_subcommand check" -l help -d 'Print help (-h is the host, as in the mysql client)'
complete -c conncheck -n "__fish_conncheck_using_subcommand watch" -l interval -d 'Time between samples (at least 100ms)' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand watch" -l count -d 'Stop after this many samples, at least 1 (reconnect attempts count too; default: until q or Ctrl-C)' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand watch" -l window -d 'Number of samples kept for the sparkline' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand watch" -s h -l host -d 'Server host name or IP. `localhost` means the Unix socket, `127.0.0.1` means TCP (as in mysql). Environment: MYSQL_HOST' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand watch" -s P -l port -d 'TCP port [default: 3306]. Environment: MYSQL_TCP_PORT' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand watch" -s u -l user -d 'User name [default: your login name]' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand watch" -s p -l password -d 'Password. A bare -p prompts with hidden input; a value must be attached: -pSECRET or --password=SECRET (prints a warning, as mysql does). Prefer ~/.my.cnf or MYSQL_PWD' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand watch" -s S -l socket -d 'Unix socket file (used when the host is localhost or not given). Environment: MYSQL_UNIX_PORT' -r -F
complete -c conncheck -n "__fish_conncheck_using_subcommand watch" -s D -l database -d 'Default database for the session' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand watch" -l protocol -d 'Force the transport: tcp, or socket. By default localhost uses the socket, anything else TCP' -r -f -a "tcp\t''
socket\t''"
complete -c conncheck -n "__fish_conncheck_using_subcommand watch" -l url -d 'Connection URL: mysql://user:pass@host:port/db (also mariadb://). Repeat it to check several servers at once (status, check, diagnose)' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand watch" -l targets -d 'File with one target per line (a URL or host[:port]; # starts a comment). Credentials for host[:port] lines come from option files and the environment' -r -F
complete -c conncheck -n "__fish_conncheck_using_subcommand watch" -l jobs -d 'How many targets to read at once when there are several (each has its own connection and timeouts). Connecting is apart: up to 1,024 connection attempts run at once (fewer when the open-files limit is lower), so servers that never answer delay no other' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand watch" -l deadline -d 'With several targets, stop after this long: the targets not finished by then are reported UNKNOWN (check) or as a timeout (status, diagnose), with what they were still doing. Default: wait for every target (each is bounded by its own timeouts)' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand watch" -l defaults-file -d 'Read options only from this file (no other option files)' -r -F
complete -c conncheck -n "__fish_conncheck_using_subcommand watch" -l defaults-extra-file -d 'Read this option file after the usual ones' -r -F
complete -c conncheck -n "__fish_conncheck_using_subcommand watch" -l login-path -d 'Also read option group [NAME] of every option file and of the login path file ~/.mylogin.cnf (written by `mysql_config_editor set --login-path=NAME`)' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand watch" -l ssl-mode -d 'TLS: DISABLED, PREFERRED (default: TLS when offered; loopback and sockets stay plain), REQUIRED, VERIFY_CA, VERIFY_IDENTITY. TLS never applies to a Unix socket' -r -f -a "DISABLED\t''
PREFERRED\t''
REQUIRED\t''
VERIFY_CA\t''
VERIFY_IDENTITY\t''"
complete -c conncheck -n "__fish_conncheck_using_subcommand watch" -l ssl-ca -d 'CA certificate file (PEM) for VERIFY_CA / VERIFY_IDENTITY' -r -F
complete -c conncheck -n "__fish_conncheck_using_subcommand watch" -l ssl-cert -d 'Client certificate (PEM) for TLS client authentication' -r -F
complete -c conncheck -n "__fish_conncheck_using_subcommand watch" -l ssl-key -d 'Client private key (PEM) for TLS client authentication' -r -F
complete -c conncheck -n "__fish_conncheck_using_subcommand watch" -l server-public-key-path -d 'The server\'s RSA public key (PEM, its public_key.pem), for a caching_sha2_password account over TCP without TLS: when the server asks for the password itself, it is encrypted with this key. Without it (or TLS, a socket, --get-server-public-key) conncheck refuses (exit 19)' -r -F
complete -c conncheck -n "__fish_conncheck_using_subcommand watch" -l connect-timeout -d 'Give up connecting after this long (TCP connect, greeting and login together)' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand watch" -l query-timeout -d 'Give up on any single query after this long (network read/write timeout; our statements also get a server-side limit so they never pile up on a sick server)' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand watch" -l admin-port -d 'Try this port first: MySQL\'s admin_port (33062) or MariaDB\'s extra_port, which keep working when max_connections is reached. Falls back to the normal port' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand watch" -l color -d 'When to use colors: auto (a terminal, NO_COLOR unset, TERM not dumb), always, never' -r -f -a "auto\t''
always\t''
never\t''"
complete -c conncheck -n "__fish_conncheck_using_subcommand watch" -l no-defaults -d 'Read no option files (the login path file ~/.mylogin.cnf is still read, as MySQL does; --no-login-paths skips it)'
complete -c conncheck -n "__fish_conncheck_using_subcommand watch" -l no-login-paths -d 'Do not read the login path file ~/.mylogin.cnf ($MYSQL_TEST_LOGIN_FILE)'
complete -c conncheck -n "__fish_conncheck_using_subcommand watch" -l get-server-public-key -d 'Over TCP without TLS, let a caching_sha2_password login ask the server for its RSA public key and encrypt the password with it. The key is not verified: whoever answers in the server\'s place receives the password. Prefer TLS or --server-public-key-path'
complete -c conncheck -n "__fish_conncheck_using_subcommand watch" -l debug -d 'Log every statement sent to the server, with its round-trip time, on stderr (never the password: it is not part of any statement)'
complete -c conncheck -n "__fish_conncheck_using_subcommand watch" -l help -d 'Print help (-h is the host, as in the mysql client)'
complete -c conncheck -n "__fish_conncheck_using_subcommand record" -l dir -d 'Write incident folders here (created 0700 if missing)' -r -F
complete -c conncheck -n "__fish_conncheck_using_subcommand record" -l interval -d 'Time between samples (at least 100ms)' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand record" -l trigger -d 'When to write an incident: \'METRIC OP VALUE\', e.g. \'usage >= 90\' (repeat: any one fires; default \'usage >= 90\')' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand record" -l cooldown -d 'After an incident, do not start another one for this long' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand record" -l after -d 'Take the second snapshot this long after the trigger' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand record" -l before -d 'Keep the samples of this long before the trigger in the incident' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand record" -l max-size -d 'Disk bound for all incidents in --dir, at least 1M: the oldest are removed first (never the newest), and query texts are cut so that one incident fits in it' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand record" -l for -d 'Stop after this long (default: until SIGINT or SIGTERM)' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand record" -s h -l host -d 'Server host name or IP. `localhost` means the Unix socket, `127.0.0.1` means TCP (as in mysql). Environment: MYSQL_HOST' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand record" -s P -l port -d 'TCP port [default: 3306]. Environment: MYSQL_TCP_PORT' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand record" -s u -l user -d 'User name [default: your login name]' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand record" -s p -l password -d 'Password. A bare -p prompts with hidden input; a value must be attached: -pSECRET or --password=SECRET (prints a warning, as mysql does). Prefer ~/.my.cnf or MYSQL_PWD' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand record" -s S -l socket -d 'Unix socket file (used when the host is localhost or not given). Environment: MYSQL_UNIX_PORT' -r -F
complete -c conncheck -n "__fish_conncheck_using_subcommand record" -s D -l database -d 'Default database for the session' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand record" -l protocol -d 'Force the transport: tcp, or socket. By default localhost uses the socket, anything else TCP' -r -f -a "tcp\t''
socket\t''"
complete -c conncheck -n "__fish_conncheck_using_subcommand record" -l url -d 'Connection URL: mysql://user:pass@host:port/db (also mariadb://). Repeat it to check several servers at once (status, check, diagnose)' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand record" -l targets -d 'File with one target per line (a URL or host[:port]; # starts a comment). Credentials for host[:port] lines come from option files and the environment' -r -F
complete -c conncheck -n "__fish_conncheck_using_subcommand record" -l jobs -d 'How many targets to read at once when there are several (each has its own connection and timeouts). Connecting is apart: up to 1,024 connection attempts run at once (fewer when the open-files limit is lower), so servers that never answer delay no other' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand record" -l deadline -d 'With several targets, stop after this long: the targets not finished by then are reported UNKNOWN (check) or as a timeout (status, diagnose), with what they were still doing. Default: wait for every target (each is bounded by its own timeouts)' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand record" -l defaults-file -d 'Read options only from this file (no other option files)' -r -F
complete -c conncheck -n "__fish_conncheck_using_subcommand record" -l defaults-extra-file -d 'Read this option file after the usual ones' -r -F
complete -c conncheck -n "__fish_conncheck_using_subcommand record" -l login-path -d 'Also read option group [NAME] of every option file and of the login path file ~/.mylogin.cnf (written by `mysql_config_editor set --login-path=NAME`)' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand record" -l ssl-mode -d 'TLS: DISABLED, PREFERRED (default: TLS when offered; loopback and sockets stay plain), REQUIRED, VERIFY_CA, VERIFY_IDENTITY. TLS never applies to a Unix socket' -r -f -a "DISABLED\t''
PREFERRED\t''
REQUIRED\t''
VERIFY_CA\t''
VERIFY_IDENTITY\t''"
complete -c conncheck -n "__fish_conncheck_using_subcommand record" -l ssl-ca -d 'CA certificate file (PEM) for VERIFY_CA / VERIFY_IDENTITY' -r -F
complete -c conncheck -n "__fish_conncheck_using_subcommand record" -l ssl-cert -d 'Client certificate (PEM) for TLS client authentication' -r -F
complete -c conncheck -n "__fish_conncheck_using_subcommand record" -l ssl-key -d 'Client private key (PEM) for TLS client authentication' -r -F
complete -c conncheck -n "__fish_conncheck_using_subcommand record" -l server-public-key-path -d 'The server\'s RSA public key (PEM, its public_key.pem), for a caching_sha2_password account over TCP without TLS: when the server asks for the password itself, it is encrypted with this key. Without it (or TLS, a socket, --get-server-public-key) conncheck refuses (exit 19)' -r -F
complete -c conncheck -n "__fish_conncheck_using_subcommand record" -l connect-timeout -d 'Give up connecting after this long (TCP connect, greeting and login together)' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand record" -l query-timeout -d 'Give up on any single query after this long (network read/write timeout; our statements also get a server-side limit so they never pile up on a sick server)' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand record" -l admin-port -d 'Try this port first: MySQL\'s admin_port (33062) or MariaDB\'s extra_port, which keep working when max_connections is reached. Falls back to the normal port' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand record" -l color -d 'When to use colors: auto (a terminal, NO_COLOR unset, TERM not dumb), always, never' -r -f -a "auto\t''
always\t''
never\t''"
complete -c conncheck -n "__fish_conncheck_using_subcommand record" -l no-defaults -d 'Read no option files (the login path file ~/.mylogin.cnf is still read, as MySQL does; --no-login-paths skips it)'
complete -c conncheck -n "__fish_conncheck_using_subcommand record" -l no-login-paths -d 'Do not read the login path file ~/.mylogin.cnf ($MYSQL_TEST_LOGIN_FILE)'
complete -c conncheck -n "__fish_conncheck_using_subcommand record" -l get-server-public-key -d 'Over TCP without TLS, let a caching_sha2_password login ask the server for its RSA public key and encrypt the password with it. The key is not verified: whoever answers in the server\'s place receives the password. Prefer TLS or --server-public-key-path'
complete -c conncheck -n "__fish_conncheck_using_subcommand record" -l debug -d 'Log every statement sent to the server, with its round-trip time, on stderr (never the password: it is not part of any statement)'
complete -c conncheck -n "__fish_conncheck_using_subcommand record" -l help -d 'Print help (-h is the host, as in the mysql client)'
complete -c conncheck -n "__fish_conncheck_using_subcommand completions" -s h -l host -d 'Server host name or IP. `localhost` means the Unix socket, `127.0.0.1` means TCP (as in mysql). Environment: MYSQL_HOST' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand completions" -s P -l port -d 'TCP port [default: 3306]. Environment: MYSQL_TCP_PORT' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand completions" -s u -l user -d 'User name [default: your login name]' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand completions" -s p -l password -d 'Password. A bare -p prompts with hidden input; a value must be attached: -pSECRET or --password=SECRET (prints a warning, as mysql does). Prefer ~/.my.cnf or MYSQL_PWD' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand completions" -s S -l socket -d 'Unix socket file (used when the host is localhost or not given). Environment: MYSQL_UNIX_PORT' -r -F
complete -c conncheck -n "__fish_conncheck_using_subcommand completions" -s D -l database -d 'Default database for the session' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand completions" -l protocol -d 'Force the transport: tcp, or socket. By default localhost uses the socket, anything else TCP' -r -f -a "tcp\t''
socket\t''"
complete -c conncheck -n "__fish_conncheck_using_subcommand completions" -l url -d 'Connection URL: mysql://user:pass@host:port/db (also mariadb://). Repeat it to check several servers at once (status, check, diagnose)' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand completions" -l targets -d 'File with one target per line (a URL or host[:port]; # starts a comment). Credentials for host[:port] lines come from option files and the environment' -r -F
complete -c conncheck -n "__fish_conncheck_using_subcommand completions" -l jobs -d 'How many targets to read at once when there are several (each has its own connection and timeouts). Connecting is apart: up to 1,024 connection attempts run at once (fewer when the open-files limit is lower), so servers that never answer delay no other' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand completions" -l deadline -d 'With several targets, stop after this long: the targets not finished by then are reported UNKNOWN (check) or as a timeout (status, diagnose), with what they were still doing. Default: wait for every target (each is bounded by its own timeouts)' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand completions" -l defaults-file -d 'Read options only from this file (no other option files)' -r -F
complete -c conncheck -n "__fish_conncheck_using_subcommand completions" -l defaults-extra-file -d 'Read this option file after the usual ones' -r -F
complete -c conncheck -n "__fish_conncheck_using_subcommand completions" -l login-path -d 'Also read option group [NAME] of every option file and of the login path file ~/.mylogin.cnf (written by `mysql_config_editor set --login-path=NAME`)' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand completions" -l ssl-mode -d 'TLS: DISABLED, PREFERRED (default: TLS when offered; loopback and sockets stay plain), REQUIRED, VERIFY_CA, VERIFY_IDENTITY. TLS never applies to a Unix socket' -r -f -a "DISABLED\t''
PREFERRED\t''
REQUIRED\t''
VERIFY_CA\t''
VERIFY_IDENTITY\t''"
complete -c conncheck -n "__fish_conncheck_using_subcommand completions" -l ssl-ca -d 'CA certificate file (PEM) for VERIFY_CA / VERIFY_IDENTITY' -r -F
complete -c conncheck -n "__fish_conncheck_using_subcommand completions" -l ssl-cert -d 'Client certificate (PEM) for TLS client authentication' -r -F
complete -c conncheck -n "__fish_conncheck_using_subcommand completions" -l ssl-key -d 'Client private key (PEM) for TLS client authentication' -r -F
complete -c conncheck -n "__fish_conncheck_using_subcommand completions" -l server-public-key-path -d 'The server\'s RSA public key (PEM, its public_key.pem), for a caching_sha2_password account over TCP without TLS: when the server asks for the password itself, it is encrypted with this key. Without it (or TLS, a socket, --get-server-public-key) conncheck refuses (exit 19)' -r -F
complete -c conncheck -n "__fish_conncheck_using_subcommand completions" -l connect-timeout -d 'Give up connecting after this long (TCP connect, greeting and login together)' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand completions" -l query-timeout -d 'Give up on any single query after this long (network read/write timeout; our statements also get a server-side limit so they never pile up on a sick server)' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand completions" -l admin-port -d 'Try this port first: MySQL\'s admin_port (33062) or MariaDB\'s extra_port, which keep working when max_connections is reached. Falls back to the normal port' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand completions" -l color -d 'When to use colors: auto (a terminal, NO_COLOR unset, TERM not dumb), always, never' -r -f -a "auto\t''
always\t''
never\t''"
complete -c conncheck -n "__fish_conncheck_using_subcommand completions" -l no-defaults -d 'Read no option files (the login path file ~/.mylogin.cnf is still read, as MySQL does; --no-login-paths skips it)'
complete -c conncheck -n "__fish_conncheck_using_subcommand completions" -l no-login-paths -d 'Do not read the login path file ~/.mylogin.cnf ($MYSQL_TEST_LOGIN_FILE)'
complete -c conncheck -n "__fish_conncheck_using_subcommand completions" -l get-server-public-key -d 'Over TCP without TLS, let a caching_sha2_password login ask the server for its RSA public key and encrypt the password with it. The key is not verified: whoever answers in the server\'s place receives the password. Prefer TLS or --server-public-key-path'
complete -c conncheck -n "__fish_conncheck_using_subcommand completions" -l debug -d 'Log every statement sent to the server, with its round-trip time, on stderr (never the password: it is not part of any statement)'
complete -c conncheck -n "__fish_conncheck_using_subcommand completions" -l help -d 'Print help (-h is the host, as in the mysql client)'
complete -c conncheck -n "__fish_conncheck_using_subcommand man" -s h -l host -d 'Server host name or IP. `localhost` means the Unix socket, `127.0.0.1` means TCP (as in mysql). Environment: MYSQL_HOST' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand man" -s P -l port -d 'TCP port [default: 3306]. Environment: MYSQL_TCP_PORT' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand man" -s u -l user -d 'User name [default: your login name]' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand man" -s p -l password -d 'Password. A bare -p prompts with hidden input; a value must be attached: -pSECRET or --password=SECRET (prints a warning, as mysql does). Prefer ~/.my.cnf or MYSQL_PWD' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand man" -s S -l socket -d 'Unix socket file (used when the host is localhost or not given). Environment: MYSQL_UNIX_PORT' -r -F
complete -c conncheck -n "__fish_conncheck_using_subcommand man" -s D -l database -d 'Default database for the session' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand man" -l protocol -d 'Force the transport: tcp, or socket. By default localhost uses the socket, anything else TCP' -r -f -a "tcp\t''
socket\t''"
complete -c conncheck -n "__fish_conncheck_using_subcommand man" -l url -d 'Connection URL: mysql://user:pass@host:port/db (also mariadb://). Repeat it to check several servers at once (status, check, diagnose)' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand man" -l targets -d 'File with one target per line (a URL or host[:port]; # starts a comment). Credentials for host[:port] lines come from option files and the environment' -r -F
complete -c conncheck -n "__fish_conncheck_using_subcommand man" -l jobs -d 'How many targets to read at once when there are several (each has its own connection and timeouts). Connecting is apart: up to 1,024 connection attempts run at once (fewer when the open-files limit is lower), so servers that never answer delay no other' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand man" -l deadline -d 'With several targets, stop after this long: the targets not finished by then are reported UNKNOWN (check) or as a timeout (status, diagnose), with what they were still doing. Default: wait for every target (each is bounded by its own timeouts)' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand man" -l defaults-file -d 'Read options only from this file (no other option files)' -r -F
complete -c conncheck -n "__fish_conncheck_using_subcommand man" -l defaults-extra-file -d 'Read this option file after the usual ones' -r -F
complete -c conncheck -n "__fish_conncheck_using_subcommand man" -l login-path -d 'Also read option group [NAME] of every option file and of the login path file ~/.mylogin.cnf (written by `mysql_config_editor set --login-path=NAME`)' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand man" -l ssl-mode -d 'TLS: DISABLED, PREFERRED (default: TLS when offered; loopback and sockets stay plain), REQUIRED, VERIFY_CA, VERIFY_IDENTITY. TLS never applies to a Unix socket' -r -f -a "DISABLED\t''
PREFERRED\t''
REQUIRED\t''
VERIFY_CA\t''
VERIFY_IDENTITY\t''"
complete -c conncheck -n "__fish_conncheck_using_subcommand man" -l ssl-ca -d 'CA certificate file (PEM) for VERIFY_CA / VERIFY_IDENTITY' -r -F
complete -c conncheck -n "__fish_conncheck_using_subcommand man" -l ssl-cert -d 'Client certificate (PEM) for TLS client authentication' -r -F
complete -c conncheck -n "__fish_conncheck_using_subcommand man" -l ssl-key -d 'Client private key (PEM) for TLS client authentication' -r -F
complete -c conncheck -n "__fish_conncheck_using_subcommand man" -l server-public-key-path -d 'The server\'s RSA public key (PEM, its public_key.pem), for a caching_sha2_password account over TCP without TLS: when the server asks for the password itself, it is encrypted with this key. Without it (or TLS, a socket, --get-server-public-key) conncheck refuses (exit 19)' -r -F
complete -c conncheck -n "__fish_conncheck_using_subcommand man" -l connect-timeout -d 'Give up connecting after this long (TCP connect, greeting and login together)' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand man" -l query-timeout -d 'Give up on any single query after this long (network read/write timeout; our statements also get a server-side limit so they never pile up on a sick server)' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand man" -l admin-port -d 'Try this port first: MySQL\'s admin_port (33062) or MariaDB\'s extra_port, which keep working when max_connections is reached. Falls back to the normal port' -r
complete -c conncheck -n "__fish_conncheck_using_subcommand man" -l color -d 'When to use colors: auto (a terminal, NO_COLOR unset, TERM not dumb), always, never' -r -f -a "auto\t''
always\t''
never\t''"
complete -c conncheck -n "__fish_conncheck_using_subcommand man" -l no-defaults -d 'Read no option files (the login path file ~/.mylogin.cnf is still read, as MySQL does; --no-login-paths skips it)'
complete -c conncheck -n "__fish_conncheck_using_subcommand man" -l no-login-paths -d 'Do not read the login path file ~/.mylogin.cnf ($MYSQL_TEST_LOGIN_FILE)'
complete -c conncheck -n "__fish_conncheck_using_subcommand man" -l get-server-public-key -d 'Over TCP without TLS, let a caching_sha2_password login ask the server for its RSA public key and encrypt the password with it. The key is not verified: whoever answers in the server\'s place receives the password. Prefer TLS or --server-public-key-path'
complete -c conncheck -n "__fish_conncheck_using_subcommand man" -l debug -d 'Log every statement sent to the server, with its round-trip time, on stderr (never the password: it is not part of any statement)'
complete -c conncheck -n "__fish_conncheck_using_subcommand man" -l help -d 'Print help (-h is the host, as in the mysql client)'
complete -c conncheck -n "__fish_conncheck_using_subcommand help; and not __fish_seen_subcommand_from status sessions diagnose snapshot kill-idle kill-long set-timeouts set-max-connections set-slow-log check watch record completions man help" -f -a "status" -d 'One screen: flavor, usage against max_connections, counters, timeouts and the top clients'
complete -c conncheck -n "__fish_conncheck_using_subcommand help; and not __fish_seen_subcommand_from status sessions diagnose snapshot kill-idle kill-long set-timeouts set-max-connections set-slow-log check watch record completions man help" -f -a "sessions" -d 'The processlist with filters, grouping and open-transaction ages'
complete -c conncheck -n "__fish_conncheck_using_subcommand help; and not __fish_seen_subcommand_from status sessions diagnose snapshot kill-idle kill-long set-timeouts set-max-connections set-slow-log check watch record completions man help" -f -a "diagnose" -d 'Find why the server runs out of connections: ranked causes, evidence, and the fix for each'
complete -c conncheck -n "__fish_conncheck_using_subcommand help; and not __fish_seen_subcommand_from status sessions diagnose snapshot kill-idle kill-long set-timeouts set-max-connections set-slow-log check watch record completions man help" -f -a "snapshot" -d 'Save everything diagnose reads to a JSON file (judge it later with `diagnose --from`)'
complete -c conncheck -n "__fish_conncheck_using_subcommand help; and not __fish_seen_subcommand_from status sessions diagnose snapshot kill-idle kill-long set-timeouts set-max-connections set-slow-log check watch record completions man help" -f -a "kill-idle" -d 'Kill sessions idle (Sleep) for at least --older-than, after showing the plan'
complete -c conncheck -n "__fish_conncheck_using_subcommand help; and not __fish_seen_subcommand_from status sessions diagnose snapshot kill-idle kill-long set-timeouts set-max-connections set-slow-log check watch record completions man help" -f -a "kill-long" -d 'Kill sessions (or only their statements) running for at least --longer-than'
complete -c conncheck -n "__fish_conncheck_using_subcommand help; and not __fish_seen_subcommand_from status sessions diagnose snapshot kill-idle kill-long set-timeouts set-max-connections set-slow-log check watch record completions man help" -f -a "set-timeouts" -d 'Lower (or raise) the global wait_timeout / interactive_timeout'
complete -c conncheck -n "__fish_conncheck_using_subcommand help; and not __fish_seen_subcommand_from status sessions diagnose snapshot kill-idle kill-long set-timeouts set-max-connections set-slow-log check watch record completions man help" -f -a "set-max-connections" -d 'Change the global max_connections, showing its memory cost first'
complete -c conncheck -n "__fish_conncheck_using_subcommand help; and not __fish_seen_subcommand_from status sessions diagnose snapshot kill-idle kill-long set-timeouts set-max-connections set-slow-log check watch record completions man help" -f -a "set-slow-log" -d 'Turn the slow query log on or off (find the queries that hold connections)'
complete -c conncheck -n "__fish_conncheck_using_subcommand help; and not __fish_seen_subcommand_from status sessions diagnose snapshot kill-idle kill-long set-timeouts set-max-connections set-slow-log check watch record completions man help" -f -a "check" -d 'Health check for CI and monitoring: Nagios exit codes, JSON or Prometheus output'
complete -c conncheck -n "__fish_conncheck_using_subcommand help; and not __fish_seen_subcommand_from status sessions diagnose snapshot kill-idle kill-long set-timeouts set-max-connections set-slow-log check watch record completions man help" -f -a "watch" -d 'Live view of connection usage, refreshed every --interval'
complete -c conncheck -n "__fish_conncheck_using_subcommand help; and not __fish_seen_subcommand_from status sessions diagnose snapshot kill-idle kill-long set-timeouts set-max-connections set-slow-log check watch record completions man help" -f -a "record" -d 'Flight recorder: sample every --interval, and write an incident folder when a trigger fires'
complete -c conncheck -n "__fish_conncheck_using_subcommand help; and not __fish_seen_subcommand_from status sessions diagnose snapshot kill-idle kill-long set-timeouts set-max-connections set-slow-log check watch record completions man help" -f -a "completions" -d 'Print a shell completion script'
complete -c conncheck -n "__fish_conncheck_using_subcommand help; and not __fish_seen_subcommand_from status sessions diagnose snapshot kill-idle kill-long set-timeouts set-max-connections set-slow-log check watch record completions man help" -f -a "man" -d 'Write the man pages into a directory'
complete -c conncheck -n "__fish_conncheck_using_subcommand help; and not __fish_seen_subcommand_from status sessions diagnose snapshot kill-idle kill-long set-timeouts set-max-connections set-slow-log check watch record completions man help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
