#pragma once

#include <chrono>
#include <cstddef>

#include <caf/fwd.hpp>

#include "core/clock.hpp"
#include "core/config.hpp"
#include "core/messages.hpp"
#include "core/stats.hpp"

namespace presence::actors {

/// Spawns the fan-out of one node: it holds subscriptions (listener actor ->
/// users or the global feed) and coalesces adaptively: a delta after a
/// quiet spell goes out at once and opens a window of `cfg.coalesce_window`;
/// deltas arriving within it are gathered (the latest state per user wins)
/// and sent together when it ends, opening the next window, until a window
/// gathers nothing. Each listener gets one `(delta_atom, delta_batch)` per
/// send with what it asked for; global listeners share one batch object.
/// A user's deltas are never reordered. Listeners are monitored; a dead one
/// is forgotten. Interface: `fanout_api` (core/messages.hpp).
///
/// The window after a send grows with what the send cost: a send to many
/// listeners (a storm of joins with every socket listening, as seed 000
/// has it) opens a window of `fanout_window(cfg.coalesce_window, n)`. A
/// window under fanout_timer_min gathers what is already in the mailbox
/// when a delta falls into it (no timer).
///
/// It also keeps the node's change log (change_log.hpp, `cfg.change_log_size`
/// users) of every delta it hears, subscribed to or not; `started` (the
/// node's start, wall-clock ms) is how far back it reaches at first.
/// `direct`: the node's direct listeners (listeners found there when they
/// subscribe get their batches on the fan-out's thread, no message).
/// `stats`: where it records how old each change is when it goes out
/// (node_stats::delivery_delay; the change's version is its time in ms).
/// `now`: the node's wall clock (the change log's age bound and those ages
/// are measured by it, as versions are).
fanout_api spawn_fanout(caf::actor_system& sys, const actors_config& cfg,
                        uint64_t started = 0,
                        std::shared_ptr<direct_listeners> direct = nullptr,
                        std::shared_ptr<node_stats> stats = nullptr,
                        wall_clock now = system_now);

/// Listener messages per second a fan-out paces itself to in a storm: about
/// what one costs with its socket write (the fan-out benchmarks: 4.5-6 us
/// native, up to ~10 us Socket.IO), so the window a send opens lasts about
/// as long as the send, and a change right after a large send waits for
/// little more than that send. Pacing leaves a storm's joins the rest of
/// the machine (docs/benchmarks.md: "twenty-ninth session"; at 20 us each,
/// before, a change 5 ms after a send to 1,000 Socket.IO sockets waited
/// 15 ms more, with no gain in the storm's CPU per join).
constexpr std::size_t fanout_deliveries_per_second = 100'000;

/// The longest window a large audience opens.
constexpr std::chrono::milliseconds fanout_max_window{100};

/// A window shorter than this sets no timer (with the default 0.25 ms
/// window: after a send to fewer than 100 listeners, whose window is 0.25
/// ms up to 25 of them, then 10 us each): a delta that falls into it goes
/// out with those already waiting in the fan-out's mailbox, as soon as
/// they are read. Pacing by fanout_deliveries_per_second starts there. A timer costs two thread wake-ups (the clock's, then the
/// fan-out's), more than such a window saves: 10,000 online and 1,000
/// joins a second with each join's and an earlier user's leave at the
/// same instant cost 20% more CPU per churn with the timer and took the
/// observers twice as long at p50 (docs/benchmarks.md, thirty-second
/// session).
constexpr std::chrono::milliseconds fanout_timer_min{1};

/// The window a send to `listeners` listeners opens: the time those
/// deliveries take at fanout_deliveries_per_second (10 us each: 2,000
/// listeners 20 ms, 10,000 or more the 100 ms cap), never less than `base`
/// (--coalesce-window).
std::chrono::microseconds fanout_window(std::chrono::microseconds base,
                                        std::size_t listeners);

} // namespace presence::actors
