// Command-line bounds: defaults are the safe ones, every limit has a ceiling, and mistakes are
// usage errors rather than surprises.
#include "audit/cli.h"

#include <gtest/gtest.h>

namespace memshield::audit {
namespace {

TEST(Cli, SafeDefaults) {
  CliOptions o;
  CliResult r = parse_cli({"127.0.0.1"}, &o);
  EXPECT_EQ(r.outcome, CliOutcome::kRun);
  EXPECT_FALSE(o.intrusive);
  EXPECT_EQ(o.rate, 20);
  EXPECT_EQ(o.timeout_ms, 1000);
  EXPECT_EQ(o.max_targets, 256u);
  EXPECT_EQ(o.max_time_ms, 300000);
}

TEST(Cli, OptionsBothForms) {
  CliOptions o;
  CliResult r = parse_cli({"--rate=5", "--timeout", "0.5", "--json", "--intrusive", "-p", "2000",
                           "--max-targets", "1024", "--allow", "10.0.0.0/8", "a", "b"},
                          &o);
  ASSERT_EQ(r.outcome, CliOutcome::kRun) << r.message;
  EXPECT_EQ(o.rate, 5);
  EXPECT_EQ(o.timeout_ms, 500);
  EXPECT_TRUE(o.json);
  EXPECT_TRUE(o.intrusive);
  EXPECT_EQ(o.port, 2000);
  EXPECT_EQ(o.max_targets, 1024u);
  EXPECT_EQ(o.nft.allow_v4.size(), 1u);
  EXPECT_EQ(o.targets.size(), 2u);
}

TEST(Cli, UsageErrors) {
  for (std::vector<std::string> bad : {std::vector<std::string>{},
                                       {"--rate", "0", "x"},
                                       {"--rate", "5000", "x"},
                                       {"--timeout", "99", "x"},
                                       {"--max-targets", "0", "x"},
                                       {"--max-targets", "-5", "x"},
                                       {"--bogus", "x"},
                                       {"--port", "70000", "x"},
                                       {"--color", "pink", "x"},
                                       {"--rate"},
                                       {"--allow", "10.0.0.0/99", "x"}}) {
    CliOptions o;
    EXPECT_EQ(parse_cli(bad, &o).outcome, CliOutcome::kUsageError)
        << (bad.empty() ? "(none)" : bad[0]);
  }
}

TEST(Cli, HelpCarriesTheRiskTable) {
  CliOptions o;
  CliResult r = parse_cli({"--help"}, &o);
  EXPECT_EQ(r.outcome, CliOutcome::kExit);
  for (const char* word : {"critical [2]", "high     [1]", "medium   [1]", "low      [0]",
                           "none     [0]", "--max-targets", "--nft"}) {
    EXPECT_NE(r.message.find(word), std::string::npos) << word;
  }
}

}  // namespace
}  // namespace memshield::audit
