# The native backend (src/node/native-backend.ts): built at install time by
# scripts/build-native.mjs with npm's own node-gyp, against the headers of the running Node.
{
  "targets": [
    {
      "target_name": "unroll_native",
      "sources": ["native/addon.c", "native/sgemm.c", "native/dgemm.c", "native/pool.c", "native/recurrence.c", "native/peak.c", "native/optim.c", "native/scatter.c", "native/qgemv.c", "native/pick.c"],
      "defines": ["NAPI_VERSION=8"],
      # -O3 comes from Node's common.gypi (Release). No -march: sgemm.c picks AVX-512, AVX2+FMA
      # or portable code at run time, so one build runs on every x86-64 CPU.
      "cflags": ["-std=gnu11", "-ffp-contract=fast", "-fvisibility=hidden", "-Wno-psabi", "-pthread"],
      "ldflags": ["-pthread"],
      "xcode_settings": {
        "OTHER_CFLAGS": ["-std=gnu11", "-ffp-contract=fast", "-fvisibility=hidden"]
      },
      "msvs_settings": {
        "VCCLCompilerTool": { "AdditionalOptions": ["/std:c11", "/O2"] }
      }
    }
  ]
}
