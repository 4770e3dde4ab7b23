// presenced load generator: many WebSocket clients against one server (or a
// cluster), on loopback only, speaking presenced's native protocol or the
// Socket.IO dialects of seeds 000 and 004, so that presenced and a Node +
// socket.io reference can be measured with the same client on the same
// machine. Beast + Asio, no CAF; one thread per process. The parts are in
// bench/loadgen/ (loadgen.hpp explains the process layout).
//
//   loadgen --port P [--host 127.0.0.1]
//           [--protocol native|sio000|sio004] [--sio-path /socket.io/]
//           [--observer-protocol native|sio000|sio004] (default: --protocol)
//           [--scenario combined|storm|heartbeat|latency|fanout|hold|soak]
//           [--connections N] [--observers K] [--seconds S]
//           [--ping-interval-ms MS] [--concurrency C] [--rate R]
//           [--churn-hold-ms MS] [--repeat M] [--rep-gap-ms MS] [--procs P]
//           [--source-ips A,B,...] [--server-pid PID[,PID...]]...
//           [--prefix u] [--settle-ms MS] [--timeout-s S] [--window-s S]
//           [--sio004-round heartbeat|check] [--sio000-confirm ack|list]
//           [--ready-file F] [--samples-file F] [--quiet]
//
// Protocols (what a client does; "joined" is what confirms its join):
//   native  users: /ws?userId=U (the upgrade joins; "joined" frame);
//           round: {"type":"ping","id":1} -> pong. Observers: anonymous
//           sockets on /ws/user-status/ (global feed), ready on the reply to
//           an explicit subscribe; they count user.status.changed.
//   sio000  Engine.IO 4 over a WebSocket only: GET SIO_PATH?EIO=4&
//           transport=websocket, open packet 0{..}, every server ping 2 is
//           answered 3; CONNECT 40 -> 40{"sid"}; then 42N["join_user","U"],
//           joined = the ack 43N[..] (--sio000-confirm list: the first
//           online_users_list instead, for a server that does not ack).
//           round: 42["user_activity"] + 42["check_user_online","U"], ended
//           by the user_online_status event. Observers are joined seed-000
//           sockets (users PREFIXobsJ) counting user_online/user_offline.
//           online_users_list events are counted (list_events, list_bytes).
//   sio004  as sio000, but CONNECT 40/ws/messages,{"userId":"U"} joins (dev
//           mode); joined = the CONNECT reply. round: 42/ws/messages,N
//           ["heartbeat"] -> ack 43/ws/messages,N[..] (--sio004-round check:
//           check-user-status {userId: U} with ack). Observers count
//           user-online/user-offline.
//
// Scenarios (observers connect first, then --settle-ms pass):
//   combined  (default; bench/run.sh) N users join all at once, observers
//             must see all online, rounds every --ping-interval-ms for
//             --seconds, all leave, observers must see all offline.
//   storm     N users connect+join with at most --concurrency (default 200)
//             in flight: joins/s, join latency, time until all confirmed,
//             then observers must see all online; then all leave.
//   heartbeat N users join, then each does a round every --ping-interval-ms
//             for --seconds: rounds/s, RTT. One round in flight per client
//             (a tick that finds one out is skipped: rounds_skipped).
//   latency   N users held online, K observers, then churn: --rate R new
//             users per second (all workers together) join, stay
//             --churn-hold-ms, leave, for --seconds. Delivery latency is
//             measured from the moment the join was SENT (native: the
//             upgrade request; sio000: join_user; sio004: the CONNECT) to
//             each observer's delta; the churn user id carries the send
//             time (PREFIXc<worker>_<seq>_<µs>), so observers in any worker
//             time it. Leaves: from the close (join sent + hold).
//   fanout    K observers (subscribers), then ONE user (PREFIXfan, worker 0)
//             joins and leaves --repeat times: join sent -> last
//             subscriber's delivery, per repetition (--rep-gap-ms of quiet
//             before each join and close: each change alone).
//   hold      N users join, then stay idle --seconds (the caller measures
//             RSS; --ready-file is written when holding starts); all must
//             still be connected.
//   soak      latency, with delivery percentiles (and server CPU/RSS) per
//             --window-s (60) window, to check flatness; the held users
//             heartbeat every --ping-interval-ms meanwhile.
//             --samples-file F (latency, soak): every churn join an
//             observer saw, "sent_us latency_us observer" per line, in
//             F.<worker> (where in the run the tail is).
//
// Scale: --procs P forks P workers that split users and observers (each
// process holds at most ~19,900 sockets: open-files limit 20,000) and the
// parent merges their figures (log histograms with 2% buckets, so
// percentiles are exact to 2%). --source-ips binds client sockets round-
// robin to those local addresses (127.0.0.0/8 works without setup) with
// IP_BIND_ADDRESS_NO_PORT: each address gets the whole ephemeral port range
// (~28k connections per address and server port).
//
// Server CPU: --server-pid (repeatable or comma-separated, summed over a
// cluster) is sampled (utime+stime of /proc/PID/stat, and VmRSS) at every
// phase barrier; the primary figure is the CPU over the measured phase per
// operation.
//
// Output: exactly one JSON line on stdout, a summary on stderr. Exit status
// 0 if nothing was lost; 1 if a connection or join failed, a connection
// dropped, or an observer missed a delta; 2 bad usage; 3 a worker died.
//
// JSON keys (times in ms unless named otherwise; *_p50/_p99/_max are
// percentiles over all samples of all workers):
//  all scenarios:
//   scenario, protocol, observer_protocol, procs, connections, observers,
//   server_pids[],
//   failed (users_failed + observers_failed + churn_failed), users_failed,
//   observers_failed, dropped (connections closed by the server after
//   their join), errors (error frames / presence-error / failed acks),
//   rate_limited, rx_msgs, rx_bytes (all frames received), delta_events
//   (presence deltas received by any client), list_events, list_bytes
//   (seed 000 online_users_list), eio_pings (Engine.IO pings answered),
//   measured_ms (wall time of the measured phase), server_cpu_ms and
//   client_cpu_ms (CPU of the server(s) and of all load-generator processes
//   in the measured phase), server_cpu_ms_total (first to last barrier),
//   client_cpu_ms_total (whole run), server_cpu_us_per_<op> (server CPU of
//   the measured phase / operations; null without --server-pid),
//   server_cpu_us_per_op_by_thread ({thread name: µs per operation}, the
//   same CPU by the server's thread names from /proc/PID/task), phases[]
//   ({name, count, ms, server_cpu_ms, client_cpu_ms, server_rss_kb} per
//   barrier: from the previous barrier to this one, repeated names summed),
//   lost (the exit status in one bool).
//  join phases (combined, storm, hold) also: all_delivered_ms (first join
//   to the last frame any client received because of the joins: in the
//   Socket.IO dialects every joined socket hears every join; the join
//   phase's server CPU ends there, at the nearest of the parent's 20 ms CPU
//   samples, not after the --settle-ms quiet time that detects it).
//  combined: joined, all_joined, join_total_ms, joins_per_s, join_ms_*,
//   join_ack_ms_p50/p99, fanout_complete, fanout_all_online_ms,
//   observer_missing_online, rounds, rounds_per_s, rounds_skipped, rtt_ms_*,
//   pongs, pongs_per_s (= rounds), offline_complete, all_offline_ms,
//   observer_missing_offline, server_cpu_us_per_join,
//   server_cpu_us_per_round; measured phase: the whole run.
//  storm: joined, all_joined, join_total_ms (first connect to last join
//   confirmed), joins_per_s, join_ms_* (connect start -> joined),
//   join_ack_ms_p50/p99 (join sent -> joined), fanout_complete,
//   fanout_all_online_ms, observer_missing_online, offline_complete,
//   all_offline_ms, observer_missing_offline, concurrency,
//   server_cpu_us_per_join (measured: first join until every frame the
//   joins caused arrived), server_cpu_us_per_leave, client_cpu_us_per_join.
//  heartbeat: joined, all_joined, round, rounds, rounds_per_s,
//   rounds_skipped, rtt_ms_*, slow_rounds_by_s ([{s, slow, max_ms}]: the
//   seconds with rounds over 10 ms), server_cpu_us_per_round,
//   client_cpu_us_per_round, offline_complete, all_offline_ms,
//   observer_missing_offline.
//  latency, soak: held, rate, churn_hold_ms, churn_started, churn_joined,
//   churn_failed, latency_from ("join_sent"), leave_latency_from
//   ("close_sent"), deliveries, delivery_ms_*, leave_deliveries,
//   leave_delivery_ms_*, churn_join_ms_* (join sent -> joined),
//   observer_missing_online, observer_missing_offline,
//   server_cpu_us_per_churn (one join + one leave and their deliveries),
//   client_cpu_us_per_churn; soak also window_s and windows[] ({window,
//   deliveries, p50_ms, p99_ms, max_ms, server_cpu_ms, server_rss_kb}).
//  fanout: subscribers, repeat, complete_reps, latency_from, fanout_last_ms_*
//   (join sent -> the last subscriber's delta, one sample per repetition),
//   fanout_each_ms_p50/p99 (every subscriber's delta), leave_last_ms_*,
//   leave_each_ms_p50/p99, missing, server_cpu_us_per_rep (a join + a
//   leave), server_cpu_us_per_delivery.
//  hold: joined, all_joined, join_*, fanout_*, held_seconds,
//   still_connected, all_connected, hold_dropped, server_rss_kb_before,
//   server_rss_kb_held, server_rss_kb_per_connection (with --server-pid),
//   server_cpu_us_per_join, offline_*; measured phase: the idle hold.

#include "loadgen/loadgen.hpp"

int main(int argc, char** argv) {
  lg::options o;
  int rc = 0;
  if (!lg::parse_options(argc, argv, o, rc))
    return rc;
  return lg::coordinate(o);
}
