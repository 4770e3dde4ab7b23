#pragma once

#include <memory>
#include <string>
#include <vector>

#include <prometheus/counter.h>

#include "core/messages.hpp"
#include "edge/common/edge_probe.hpp"
#include "edge/common/session_direct.hpp"
#include "edge/common/session_sink.hpp"
#include "edge/native/native_protocol.hpp"

namespace presence::edge {

using frame_ptr = std::shared_ptr<const std::string>;

/// Calls `f(frame)` with each frame of `batch` for a session seen as
/// `who()`, in order, encoded once per delivery (the same buffer for every
/// follower, and one for everyone a user hides from). `who` is asked only
/// when a delta's user restricts who sees them (no viewer is built per
/// delivery otherwise).
template <class Who, class F>
void each_delta_frame(const delta_batch& batch, Who&& who, F&& f) {
  for (auto& d : *batch.deltas) {
    bool hide = false;
    if (d.vis.restricted()) {
      auto v = who();
      if (!announced_to(v, d))
        continue; // nothing changed for those it is hidden from
      hide = hidden_from(v, d);
    }
    auto make = [&d, hide] {
      return std::make_shared<const std::string>(
        encode_delta(hide ? hidden(d) : d));
    };
    f(batch.memo
        ? batch.memo->get(hide ? "native-hidden" : "native", {}, d, make)
        : make());
  }
}

/// The frames of `batch` for a session seen as `who()` (each_delta_frame).
template <class Who>
std::vector<frame_ptr> delta_frames(const delta_batch& batch, Who&& who) {
  std::vector<frame_ptr> out;
  out.reserve(batch.deltas->size());
  each_delta_frame(batch, std::forward<Who>(who),
                   [&out](frame_ptr f) { out.push_back(std::move(f)); });
  return out;
}

/// Writes the frames of `batch` for a session seen as `who()` to `sink`
/// in one hop, counting them in `frames_out` (may be null). Both ways a
/// batch reaches a native session end here.
template <class Who>
void write_deltas(session_sink& sink, prometheus::Counter* frames_out,
                  const delta_batch& batch, Who&& who) {
  if (batch.deltas->size() == 1) {
    // The common case (one change): its frame alone, no vector around it.
    frame_ptr one;
    each_delta_frame(batch, std::forward<Who>(who),
                     [&one](frame_ptr f) { one = std::move(f); });
    if (!one)
      return;
    counter_tally::count(frames_out);
    sink.send_text(std::move(one));
    return;
  }
  auto frames = delta_frames(batch, std::forward<Who>(who));
  if (frames.empty())
    return;
  counter_tally::count(frames_out, static_cast<double>(frames.size()));
  sink.send_texts(std::move(frames));
}

/// The native session's way in for the fan-out (session_direct.hpp): a
/// batch goes straight to the socket, on the fan-out's thread, unless it
/// needs the session actor.
class native_direct final : public session_direct {
public:
  /// `frames_out` shares ownership of the metrics registry that holds it:
  /// the fan-out may call deliver() after the session (and the edge
  /// context) ended, until it hears of the end.
  native_direct(std::shared_ptr<session_sink> sink,
                std::shared_ptr<prometheus::Counter> frames_out,
                caf::actor_addr session)
    : session_direct(std::move(session)), sink_(std::move(sink)),
      frames_out_(std::move(frames_out)) {
    // nop
  }

  std::shared_ptr<delivery_home> home() const override { return sink_->home(); }

  void warm(int step) const override {
    if (step == 0)
      __builtin_prefetch(sink_.get());
    else
      sink_->warm();
  }

private:
  bool write(const delta_batch& batch) override {
    write_deltas(*sink_, frames_out_.get(), batch, [] { return viewer{}; });
    return true;
  }

  std::shared_ptr<session_sink> sink_;
  std::shared_ptr<prometheus::Counter> frames_out_;
};

} // namespace presence::edge
