#include <catch2/catch.hpp>

#include <memory>
#include <string>
#include <vector>

#include "core/handoff.hpp"

using namespace presence;

namespace {

/// An item that records its name into `log` when run.
struct named : handoff_item {
  named(std::vector<std::string>* log, std::string name)
    : log(log), name(std::move(name)) {
    // nop
  }
  void run(std::shared_ptr<handoff_item> self) override {
    CHECK(self.get() == this);
    log->push_back(name);
  }
  std::vector<std::string>* log;
  std::string name;
};

/// A target that keeps the posts it got (each a vector of items), runs
/// nothing until asked.
struct target {
  std::vector<std::vector<std::shared_ptr<handoff_item>>> posts;
  static void post(void* t, std::vector<std::shared_ptr<handoff_item>> items) {
    static_cast<target*>(t)->posts.push_back(std::move(items));
  }
  void run_all() {
    for (auto& p : posts)
      for (auto& i : p) {
        auto* raw = i.get();
        raw->run(std::move(i));
      }
    posts.clear();
  }
};

} // namespace

TEST_CASE("handoff_pass: no pass open, nothing is gathered",
          "[core][handoff]") {
  CHECK(handoff_pass::current() == nullptr);
}

TEST_CASE(
  "handoff_pass: items go in chunks, in order, and the rest at the "
  "end of the pass",
  "[core][handoff]") {
  std::vector<std::string> log;
  target t;
  auto n = handoff_pass::chunk * 2 + 3;
  {
    handoff_pass pass;
    REQUIRE(handoff_pass::current() == &pass);
    for (std::size_t i = 0; i < n; ++i) {
      handoff_pass::current()->add(&t, &target::post,
                                   std::make_shared<named>(&log,
                                                           std::to_string(i)));
      // A full chunk goes at once: the other thread starts early.
      CHECK(t.posts.size() == (i + 1) / handoff_pass::chunk);
    }
    CHECK(t.posts.size() == 2);
  }
  CHECK(handoff_pass::current() == nullptr);
  REQUIRE(t.posts.size() == 3);
  CHECK(t.posts[0].size() == handoff_pass::chunk);
  CHECK(t.posts[2].size() == 3);
  t.run_all();
  REQUIRE(log.size() == n);
  for (std::size_t i = 0; i < n; ++i)
    CHECK(log[i] == std::to_string(i));
}

TEST_CASE("handoff_pass: each target gets its own posts; passes nest",
          "[core][handoff]") {
  std::vector<std::string> log;
  target a;
  target b;
  {
    handoff_pass outer;
    outer.add(&a, &target::post, std::make_shared<named>(&log, "a1"));
    {
      handoff_pass inner;
      CHECK(handoff_pass::current() == &inner);
      inner.add(&b, &target::post, std::make_shared<named>(&log, "b1"));
      inner.add(&a, &target::post, std::make_shared<named>(&log, "a2"));
    }
    // The inner pass posted its own items when it ended.
    CHECK(handoff_pass::current() == &outer);
    CHECK(a.posts.size() == 1);
    CHECK(b.posts.size() == 1);
    outer.add(&b, &target::post, std::make_shared<named>(&log, "b2"));
  }
  REQUIRE(a.posts.size() == 2);
  REQUIRE(b.posts.size() == 2);
  CHECK(a.posts[0].size() == 1); // a2, from the inner pass
  CHECK(a.posts[1].size() == 1); // a1
  b.run_all();
  a.run_all();
  CHECK(log == std::vector<std::string>{"b1", "b2", "a2", "a1"});
}
