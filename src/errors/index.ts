// Every error the package builds comes from one of these modules: Node's own
// argument errors (node.ts), system errors from errno facts (system.ts), our
// code registry (codes.ts) and the errors only a remote spawn has (sidecar.ts).

export { SIDECAR_CODES, SidecarError, isSidecarError, kSidecarError } from './codes';
export {
  AbortError, invalidArgType, invalidArgValue, invalidSyncForkInput, maxBufferExceeded, outOfRange, unknownSignal,
} from './node';
export { type ErrnoError, type NativeError, errnoException, errnoName, errnoNumber, isNativeError } from './system';
export {
  type FailedRequest, connectError, disconnected, failedReplyError, isThrownBySpawn, malformedReply, noSocket,
  requestTooLarge, startTimedOut, syncSpawnError, syncToOwnServer, unexpectedServer, unsafeDirectory, unsupportedOption,
} from './sidecar';
