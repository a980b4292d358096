// placeholder until the security layer lands.
namespace memshield::security {}
