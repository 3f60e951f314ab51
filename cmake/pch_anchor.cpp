// Anchor for the shared precompiled header (cmake/BatonTarget.cmake).
