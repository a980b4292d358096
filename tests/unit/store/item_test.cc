#include "store/item.h"

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

namespace memshield::store {
namespace {

// fields() decodes in one pass what the accessors find one by one: they must agree for every
// combination of the optional fields, including the long-value length field.
TEST(ItemFields, AgreeWithTheAccessorsForEveryLayout) {
  const std::string key = "some:key";
  const size_t long_value = Item::kLongValue;
  for (size_t vlen : {size_t{0}, size_t{100}, long_value - 1, long_value, long_value + 5}) {
    for (uint32_t flags : {0u, 7u, 0xFFFFFFFFu}) {
      for (bool exptime_field : {false, true}) {
        std::vector<char> buf(item_alloc_size(key.size(), vlen, flags, exptime_field) + 1);
        auto* it = reinterpret_cast<Item*>(buf.data() + 1);  // items sit at any byte offset
        it->init(key.size(), vlen, flags, exptime_field);
        memcpy(it->key_data(), key.data(), key.size());
        if (exptime_field) {
          ASSERT_TRUE(it->set_exptime(12345));
        }
        const Item::Fields f = it->fields();
        EXPECT_EQ(std::string_view(f.key, f.nkey), it->key());
        EXPECT_EQ(f.key + f.nkey, it->value_data());
        EXPECT_EQ(f.vlen, it->vlen());
        EXPECT_EQ(f.vlen, vlen);
        EXPECT_EQ(f.flags, it->flags());
        EXPECT_EQ(f.flags, flags);
        EXPECT_EQ(f.exptime, it->exptime());
        EXPECT_EQ(f.exptime, exptime_field ? 12345u : 0u);
        EXPECT_EQ(f.key + f.nkey + f.vlen, buf.data() + buf.size());
      }
    }
  }
}

}  // namespace
}  // namespace memshield::store
