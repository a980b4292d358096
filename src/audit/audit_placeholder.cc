// placeholder so the audit layer exists before its first file lands.
namespace memshield::audit {}
