#include "edge/socketio/eio_ws_endpoint.hpp"

#include <prometheus/counter.h>

#include "edge/socketio/socketio_codec.hpp"

namespace presence::edge {

namespace {

class eio_ws_endpoint : public ws_endpoint {
public:
  eio_ws_endpoint(std::shared_ptr<edge_context> ctx,
                  std::shared_ptr<eio_registry> reg,
                  std::shared_ptr<eio_session> upgrade, sio_params params)
    : ctx_(std::move(ctx)), reg_(std::move(reg)), session_(std::move(upgrade)),
      params_(std::move(params)) {
    // nop
  }

  void on_open(std::shared_ptr<session_sink> sink) override {
    sink_ = sink;
    if (session_) {
      session_->begin_probe(std::move(sink));
      return;
    }
    session_ = reg_->create();
    session_->attach_websocket(sink);
    // The open packet goes first, before the app can say anything.
    sink->send_text(
      std::make_shared<const std::string>(session_->open_packet()));
    session_->bind(spawn_sio_session(ctx_, session_, params_, reg_->lists));
  }

  void on_text(std::string_view text) override {
    session_->on_ws_text(sink_, text);
  }

  void on_binary() override {
    say_error("binary_not_supported", "binary frames are not supported");
  }

  void on_rate_limited() override {
    say_error("rate_limited", "too many messages; slow down");
  }

  void on_closed() override {
    if (session_)
      session_->on_ws_closed(sink_);
  }

private:
  void say_error(const char* code, const char* message) {
    ctx_->probe.protocol_errors->Increment();
    sink_->send_text(std::make_shared<const std::string>(
      sio::eio_event("/", "presence-error",
                     {{"code", code}, {"message", message}})));
  }

  std::shared_ptr<edge_context> ctx_;
  std::shared_ptr<eio_registry> reg_;
  std::shared_ptr<eio_session> session_;
  sio_params params_;
  std::shared_ptr<session_sink> sink_;
};

} // namespace

std::shared_ptr<ws_endpoint>
make_eio_ws_endpoint(std::shared_ptr<edge_context> ctx,
                     std::shared_ptr<eio_registry> reg,
                     std::shared_ptr<eio_session> upgrade, sio_params params) {
  return std::make_shared<eio_ws_endpoint>(std::move(ctx), std::move(reg),
                                           std::move(upgrade),
                                           std::move(params));
}

} // namespace presence::edge
