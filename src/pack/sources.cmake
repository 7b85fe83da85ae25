# Packing a shipment: layout, Reed-Solomon parity, rebuild (owner: pack).
set(VALISE_PACK_SOURCES
  src/pack/fs_stripe_reader.cc
  src/pack/layout.cc
  src/pack/layout_format.cc
  src/pack/parity.cc
  src/pack/rebuild.cc
)
