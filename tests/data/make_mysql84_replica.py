# Builds mysql84-replica.json: a quiet MySQL 8.4 read replica, for checking that replica and
# system threads are never judged or counted as clients. Shapes (see PROVENANCE.md):
# - MySQL 8.4.3 defaults from server-variables.tsv (innodb_log_buffer_size 64 MiB in 8.4,
#   thread_stack 1 MiB, max_connections 151, wait_timeout 28800, read_only ON on a replica);
# - replica threads as performance_schema.processlist shows them since 8.0.27: receiver
#   (`system user`, Connect, "Waiting for source to send event"), coordinator (Query,
#   "Replica has read all relay log; waiting for more updates") and replica_parallel_workers = 4
#   workers (Query, "Waiting for an event from Coordinator"); event_scheduler (Daemon);
# - Threads_connected = client connections only (the 24 reporting sessions + ours), not the
#   5 replica threads or the event scheduler (connection_handler_manager.cc).
import json, sys
base = json.load(open(sys.argv[1]))  # mysql80-incident.json, for the variable names it carries
v = dict(base['variables'])
v.update({
    'version': '8.4.3', 'version_comment': 'MySQL Community Server - GPL', 'max_connections': '151',
    'innodb_log_buffer_size': '67108864', 'read_only': 'ON', 'performance_schema': 'ON',
    'wait_timeout': '28800', 'interactive_timeout': '28800', 'thread_handling': 'one-thread-per-connection',
})
def s(i, user, host, cmd, t, state, info=None, db=None, program=None):
    r = {'id': i, 'user': user, 'host': host, 'db': db, 'command': cmd, 'time_s': t, 'state': state, 'info': info}
    if program: r['program'] = program
    return r
sessions = [s(5, 'event_scheduler', 'localhost', 'Daemon', 86000, 'Waiting on empty queue'),
            s(9, 'system user', '', 'Connect', 86000, 'Waiting for source to send event'),
            s(10, 'system user', '', 'Query', 2, 'Replica has read all relay log; waiting for more updates')]
sessions += [s(11 + k, 'system user', '', 'Query', 2, 'Waiting for an event from Coordinator') for k in range(4)]
sessions += [s(400 + k, 'reporting', f'10.0.7.{20 + k % 6}:{41000 + k}', 'Sleep', 5 + 7 * k, '', db='shop', program='metabase') for k in range(24)]
status = dict(base['status'])
status.update({'threads_connected': '25', 'threads_running': '2', 'max_used_connections': '31', 'uptime': '86400',
               'connections': '5210', 'threads_created': '40', 'connection_errors_max_connections': '0',
               'aborted_connects': '0', 'aborted_clients': '3', 'innodb_row_lock_current_waits': '0'})
out = {
    'schema_version': base['schema_version'], 'taken_at': base['taken_at'], 'target': 'replica-1.db.internal:3306',
    'server': {'flavor': 'mysql', 'version': '8.4.3', 'version_comment': 'MySQL Community Server - GPL',
               'version_number': [8, 4, 3], 'rds': False, 'processlist_source': 'performance_schema', 'uptime_s': 86400},
    'access': {'user': 'ops@%', 'connection_id': 999, 'privileges': {'process': True, 'super': False,
               'connection_admin': True, 'system_variables_admin': True, 'system_user': False}, 'route': 'normal'},
    'variables': v, 'status': status, 'sample_s': 0.0, 'sessions': sessions,
    'transactions': [], 'lock_waits': [],
}
json.dump(out, open(sys.argv[2], 'w'), indent=2)
open(sys.argv[2], 'a').write('\n')
