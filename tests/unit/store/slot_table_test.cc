// The slot table against a std::unordered_map model: random inserts, finds, erases and growth,
// including tables run at their 90% limit without growing, where probe runs are long and wrap.
#include "store/slot_table.h"

#include <gtest/gtest.h>

#include <memory>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/hash.h"

namespace memshield::store {
namespace {

// Items live in separately allocated buffers so their addresses stay put.
class Items {
 public:
  Item* make(const std::string& key) {
    bufs_.push_back(std::make_unique<char[]>(sizeof(Item) + key.size()));
    auto* it = reinterpret_cast<Item*>(bufs_.back().get());
    it->init(key.size(), 0, 0, false);
    it->bits = 0;
    memcpy(it->key_data(), key.data(), key.size());
    return it;
  }

 private:
  std::vector<std::unique_ptr<char[]>> bufs_;
};

void check_all(const SlotTable& t, const std::unordered_map<std::string, Item*>& model) {
  ASSERT_EQ(t.size(), model.size());
  for (const auto& [k, it] : model) {
    size_t i = t.find(k, hash_key(k));
    ASSERT_NE(i, SlotTable::kNone) << k;
    ASSERT_EQ(t.item_at(i), it) << k;
  }
}

TEST(SlotTable, MatchesAModelThroughGrowth) {
  SlotTable t;
  ASSERT_TRUE(t.init(16, 8));
  Items items;
  std::unordered_map<std::string, Item*> model;
  std::mt19937 rng(7);
  for (int op = 0; op < 60000; ++op) {
    std::string k = "key" + std::to_string(rng() % 20000);
    uint64_t h = hash_key(k);
    size_t i = t.find(k, h);
    auto m = model.find(k);
    ASSERT_EQ(i == SlotTable::kNone, m == model.end()) << k;
    if (rng() % 3 == 0 && i != SlotTable::kNone) {
      t.erase_at(i);
      model.erase(m);
    } else if (i == SlotTable::kNone) {
      if (t.needs_grow()) {
        ASSERT_TRUE(t.grow());
      }
      Item* it = items.make(k);
      t.insert(h, it);
      model[k] = it;
    }
  }
  check_all(t, model);
  EXPECT_LE(t.size() * 10, t.capacity() * 9);
  size_t seen = 0;
  t.for_each([&](Item*) { ++seen; });
  EXPECT_EQ(seen, model.size());
}

TEST(SlotTable, FullTableWithoutGrowingStillFindsAndMisses) {
  SlotTable t;
  ASSERT_TRUE(t.init(1000, 0));
  Items items;
  std::unordered_map<std::string, Item*> model;
  for (int n = 0; t.can_insert() && n < 998; ++n) {  // 99.8% full: runs wrap around the end
    std::string k = "k" + std::to_string(n);
    Item* it = items.make(k);
    t.insert(hash_key(k), it);
    model[k] = it;
  }
  check_all(t, model);
  for (int n = 0; n < 2000; ++n) {
    std::string k = "absent" + std::to_string(n);
    ASSERT_EQ(t.find(k, hash_key(k)), SlotTable::kNone);
  }
  // Erase every other key, then all must still be found or missed correctly.
  int n = 0;
  for (auto it = model.begin(); it != model.end();) {
    if (n++ % 2 == 0) {
      t.erase_at(t.find(it->first, hash_key(it->first)));
      it = model.erase(it);
    } else {
      ++it;
    }
  }
  check_all(t, model);
}

TEST(SlotTable, ReplaceKeepsThePlace) {
  SlotTable t;
  ASSERT_TRUE(t.init(16, 8));
  Items items;
  Item* a = items.make("same");
  Item* b = items.make("same");
  t.insert(hash_key("same"), a);
  size_t i = t.find("same", hash_key("same"));
  t.replace_at(i, b);
  EXPECT_EQ(t.find("same", hash_key("same")), i);
  EXPECT_EQ(t.item_at(i), b);
}

}  // namespace
}  // namespace memshield::store
