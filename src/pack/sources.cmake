# Packing a shipment: layout, Reed-Solomon parity, rebuild (owner: pack).
set(VALISE_PACK_SOURCES
  src/pack/fs_stripe_reader.cc
  src/pack/layout.cc
  src/pack/layout_format.cc
  src/pack/pack_drives.cc
  src/pack/pack_mkfs.cc
  src/pack/pack_mkfs_system.cc
  src/pack/pack_plan.cc
  src/pack/pack_run.cc
  src/pack/pack_state.cc
  src/pack/pack_writer.cc
  src/pack/parity.cc
  src/pack/rebuild.cc
  src/pack/sidecar_digests.cc
  src/pack/stripe_work.cc
)
