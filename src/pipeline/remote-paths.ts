/** docs/protocol.md §6.4: fixed paths inside the builder sandbox. */
export const BUILD_DIR = '/var/lib/tensorlake/rootfs-builder/build';
export const CONTEXT_DIR = `${BUILD_DIR}/context`;
export const CONTEXT_ARCHIVE = `${BUILD_DIR}/context.tar.gz`;
export const SPEC_PATH = `${BUILD_DIR}/spec.json`;
export const METADATA_PATH = `${BUILD_DIR}/metadata.json`;
export const BUILDER_BIN_DIR = '/usr/local/bin';
export const BUILDER_PATH_ENV = '/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
