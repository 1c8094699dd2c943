/**
 * Socket reads into one shared buffer (issue 20). For every read of a
 * socket, Node allocates a new ArrayBuffer of the bytes read; at 3 Mbit/s a
 * stream that is about as much external memory per second as its media,
 * which the garbage collector must account and free. `onread` (net.Socket
 * option) reads into a buffer of ours instead, but Node offers it only for
 * the sockets it creates (net.connect, new net.Socket), not for those a
 * server accepts. So the accepted socket's handle is given to a new
 * net.Socket with `onread`: this uses two private members of Node's net
 * module (`_handle`, `_server`) and the undocumented `handle` option, all in
 * this module; when they are not there, `null` says to read the socket as
 * usual ('data' events).
 *
 * The buffer is overwritten by the next read of any socket: the callback
 * must copy what it keeps before it returns (the chunk reader does).
 */
import net from 'node:net';

/** What this module reads of an accepted net.Socket. */
interface AcceptedInternals {
  _handle?: { useUserBuffer?: unknown; readStart?: unknown } | null;
  _server?: unknown;
}

/** Bytes of the shared read buffer (Node's own reads ask for 64 KiB). */
export const SHARED_READ_SIZE = 64 * 1024;

/**
 * Moves an accepted, paused socket (server with pauseOnConnect) to a new
 * net.Socket whose reads land in `buffer`, calling `onData(buffer, bytes)`;
 * returns the new socket, or null when Node's internals are not as expected
 * (then the caller resumes the original socket and reads its 'data' events).
 */
export function adoptWithSharedReads(socket: net.Socket, buffer: Buffer, onData: (data: Buffer, bytes: number) => void): net.Socket | null {
  const inner = socket as unknown as AcceptedInternals;
  const handle = inner._handle;
  if (!handle || typeof handle.useUserBuffer !== 'function' || typeof handle.readStart !== 'function' || !('_server' in inner)) return null;
  let adopted: net.Socket;
  try {
    const options = {
      handle,
      readable: true,
      writable: true,
      onread: {
        buffer,
        callback: (bytes: number, buf: Buffer): void => onData(buf, bytes),
      },
    };
    adopted = new net.Socket(options as unknown as net.SocketConstructorOpts);
  } catch {
    return null;
  }
  // the server counts its connections on the socket it accepted and waits for that count to drain on close()
  (adopted as unknown as AcceptedInternals)._server = inner._server;
  inner._server = null;
  inner._handle = null;
  return adopted;
}
