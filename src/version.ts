export const ACTION_VERSION = '1.0.0';
export const USER_AGENT = `sbx-image-action/${ACTION_VERSION}`;
