// Google Benchmark microbenchmarks of the protocol codecs (src/protocol), through their public
// API only: a text get line, a set line, a 10-key multi-get with its key walk, a meta mg with
// flags, and a binary header decode plus check. Run: build/bin/memshield-micro.
#include <benchmark/benchmark.h>

#include <cstring>
#include <string>
#include <string_view>

#include "protocol/binary/header.h"
#include "protocol/text/keys.h"
#include "protocol/text/meta_parser.h"
#include "protocol/text/parser.h"

namespace {

namespace text = memshield::protocol::text;
namespace binary = memshield::protocol::binary;

// find_line + parse_line, as a connection does for each request.
void parse_text(benchmark::State& state, std::string_view input) {
  for (auto _ : state) {
    text::Line line;
    text::LineStatus st = text::find_line(input, &line);
    text::Request req;
    text::parse_line(line.text, &req);
    benchmark::DoNotOptimize(st);
    benchmark::DoNotOptimize(req);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * input.size()));
}

void BM_TextGet(benchmark::State& state) { parse_text(state, "get user:1234567\r\n"); }
BENCHMARK(BM_TextGet);

void BM_TextSet(benchmark::State& state) {
  parse_text(state, "set user:1234567 0 3600 100 noreply\r\n");
}
BENCHMARK(BM_TextSet);

void BM_TextMultiGet10(benchmark::State& state) {
  std::string input = "get";
  for (int i = 0; i < 10; ++i) input += " user:" + std::to_string(1000000 + i);
  input += "\r\n";
  for (auto _ : state) {
    text::Line line;
    text::find_line(input, &line);
    text::Request req;
    text::parse_line(line.text, &req);
    size_t n = 0;
    text::for_each_key(req.keys, [&](std::string_view k) {
      benchmark::DoNotOptimize(k.data());
      ++n;
      return true;
    });
    benchmark::DoNotOptimize(n);
  }
  state.SetItemsProcessed(state.iterations() * 10);
}
BENCHMARK(BM_TextMultiGet10);

void BM_MetaGetWithFlags(benchmark::State& state) {
  const std::string_view input = "mg user:1234567 v f t c k s T30 Oabcd q\r\n";
  for (auto _ : state) {
    text::Line line;
    text::find_line(input, &line);
    text::MetaRequest req;
    text::parse_meta(line.text, &req);
    benchmark::DoNotOptimize(req.nflags);
    benchmark::DoNotOptimize(req.key.data());
  }
}
BENCHMARK(BM_MetaGetWithFlags);

void BM_BinaryHeaderDecode(benchmark::State& state) {
  binary::Header h;
  h.magic = binary::kRequestMagic;
  h.opcode = binary::op::kSet;
  h.key_length = 16;
  h.extras_length = 8;
  h.body_length = 16 + 8 + 100;
  h.opaque = 0xdeadbeef;
  char wire[binary::kHeaderSize];
  binary::encode_header(h, wire);
  const std::string_view in(wire, sizeof(wire));
  for (auto _ : state) {
    binary::Header out;
    bool ok = binary::decode_header(in, &out);
    binary::Check c = binary::check_request(out, false);
    benchmark::DoNotOptimize(ok);
    benchmark::DoNotOptimize(c);
    benchmark::DoNotOptimize(out);
  }
}
BENCHMARK(BM_BinaryHeaderDecode);

}  // namespace
