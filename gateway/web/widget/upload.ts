/**
 * An image upload with progress: `POST /v1/conversations/{id}/files` over XMLHttpRequest, since
 * `fetch` cannot report how much of a body went out. Resolves with the stored file.
 */

import { ChatgateError, type UploadedFile } from "../sdk/index.js";

export function uploadWithProgress(
  baseUrl: string,
  token: string,
  conversationId: string,
  file: File,
  onProgress: (fraction: number) => void,
): Promise<UploadedFile> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", `${baseUrl}/v1/conversations/${encodeURIComponent(conversationId)}/files`);
    xhr.setRequestHeader("Authorization", `Bearer ${token}`);
    xhr.responseType = "json";
    xhr.upload.onprogress = (event) => {
      if (event.lengthComputable) onProgress(event.loaded / event.total);
    };
    xhr.onload = () => {
      const body = xhr.response as
        (UploadedFile & { error?: { code: string; message: string } }) | null;
      if (xhr.status >= 200 && xhr.status < 300 && body) {
        onProgress(1);
        resolve(body);
      } else {
        const error = body?.error;
        reject(new ChatgateError(error?.code ?? "network", error?.message ?? "upload failed"));
      }
    };
    xhr.onerror = () => reject(new ChatgateError("network", "upload failed"));
    const form = new FormData();
    form.append("file", file, file.name);
    xhr.send(form);
  });
}
