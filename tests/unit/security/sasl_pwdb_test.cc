// The -S password file: memcached's "user:password" lines, split at the first colon.
#include "security/sasl_pwdb.h"

#include <gtest/gtest.h>

namespace memshield::security {
namespace {

TEST(PasswordDb, ParsesUserColonPassword) {
  PasswordDb db;
  db.parse("alice:wonder:land\nbob:builder\r\n\nnocolon\n:nouser\ncarol:\n");
  EXPECT_EQ(db.size(), 3u);
  EXPECT_TRUE(db.check("alice", "wonder:land"));
  EXPECT_TRUE(db.check("bob", "builder"));
  EXPECT_TRUE(db.check("carol", ""));
  EXPECT_FALSE(db.check("alice", "wonder"));
  EXPECT_FALSE(db.check("bob", "builder\r"));
  EXPECT_FALSE(db.check("bob", "builde"));
  EXPECT_FALSE(db.check("bob", "builderX"));
  EXPECT_FALSE(db.check("", "nouser"));
  EXPECT_FALSE(db.check("nocolon", ""));
}

TEST(PasswordDb, MissingFileIsAnError) {
  PasswordDb db;
  std::string error;
  EXPECT_FALSE(db.load("/nonexistent/memshield-pwdb", &error));
  EXPECT_NE(error.find("/nonexistent/memshield-pwdb"), std::string::npos);
}

}  // namespace
}  // namespace memshield::security
