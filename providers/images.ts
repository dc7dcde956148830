import { ProviderError } from './types.js';

/** An image as Anthropic's Messages API (and so the Claude CLI's stream-json input) takes it. */
export interface ImageBlock {
  type: 'image';
  source: { type: 'base64'; media_type: string; data: string } | { type: 'url'; url: string };
}

const IMAGE_TYPES = new Set(['image/jpeg', 'image/png', 'image/gif', 'image/webp']);
const DATA_URL = /^data:([^;,]+);base64,(.*)$/s;
/** The Messages API's limit on one image's bytes. */
const MAX_IMAGE_BYTES = 5 * 1024 * 1024;

const refused = (message: string, param: string, code: string) => new ProviderError('invalid_request', message, { param, code });

/**
 * An image part's URL as an image block: a base64 `data:` URL as its bytes, an `http(s)` URL as a URL
 * the model's API fetches (the gateway fetches nothing). Anything else, a type the API does not take
 * or an image over its size limit, is a 400 naming `param`.
 */
export function imageBlock(url: string, param: string): ImageBlock {
  const data = DATA_URL.exec(url);
  if (data) {
    const mediaType = data[1]!.toLowerCase();
    if (!IMAGE_TYPES.has(mediaType)) throw refused(`image type '${mediaType}' is not supported (jpeg, png, gif, webp are)`, param, 'unsupported_image');
    const base64 = data[2]!;
    if (Math.floor((base64.length * 3) / 4) > MAX_IMAGE_BYTES) {
      throw refused(`the image is larger than ${MAX_IMAGE_BYTES / 1024 / 1024} MiB`, param, 'image_too_large');
    }
    return { type: 'image', source: { type: 'base64', media_type: mediaType, data: base64 } };
  }
  if (/^https?:\/\//i.test(url)) return { type: 'image', source: { type: 'url', url } };
  throw refused('an image must be an http(s) URL or a base64 data URL', param, 'unsupported_image');
}
