// The one place a store type is chosen by name (dm's exception store registry, reduced).
#include "engine/persistent_store.h"
#include "engine/transient_store.h"

namespace snapcow {

Status CreateStore(std::unique_ptr<File> cow, const StoreParams& p,
                   std::unique_ptr<ExceptionStore>* out) {
  if (!p.config.persistent) {
    out->reset(new TransientStore(std::move(cow), p));
    return Status::OK();
  }
  return PersistentStore::Create(std::move(cow), p, out);
}

Status LoadPersistentStore(std::unique_ptr<File> cow, uint64_t current_origin_bytes,
                           StoreParams* p, const LoadCallback& cb,
                           std::unique_ptr<ExceptionStore>* out) {
  return PersistentStore::Load(std::move(cow), current_origin_bytes, p, cb, out);
}

}  // namespace snapcow
