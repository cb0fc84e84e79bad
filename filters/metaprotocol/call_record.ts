// What the observers of one call (spans, flow logs) read beyond its metrics. Metrics need only the
// pair and a start time, which pending calls keep in a few bytes; a record exists only for a call an
// observer asked for (a sampled call), so calls nobody observes cost nothing more.
import { Attribute, ResponseStatus } from "../../api/assembly/codec";

export class CallRecord {
  // Trace context: the span this call is, and its parent (0 when the trace started here).
  traceIdHigh: u64 = 0;
  traceIdLow: u64 = 0;
  spanId: u64 = 0;
  parentSpanId: u64 = 0;
  /** W3C tracestate (or none) passed on unchanged. */
  traceState: string = "";
  /** The call's span is exported (sampled); a record may exist for flow logs alone. */
  sampled: bool = false;
  /** The propagation format the context came in ("" when the trace started here). */
  extractedFrom: string = "";

  service: string = "";
  method: string = "";
  version: string = "";
  hasRequestId: bool = false;
  requestId: u64 = 0;
  /** The request's statement (SQL text, Redis command line), cut to the configured length. */
  statement: string = "";
  /** An `x-request-id` attribute, if the request carried one. */
  xRequestId: string = "";
  oneway: bool = false;

  startNanos: u64 = 0;
  endNanos: u64 = 0;
  requestBytes: u32 = 0;
  responseBytes: u32 = 0;
  /** How the call ended: the response's status and code, or `no_response` and why. */
  status: ResponseStatus = ResponseStatus.None;
  code: string = "";
  exception: string = "";
  answered: bool = false;
  /** The call was answered by the proxy itself (policy local reply). */
  localReply: string = "";

  /** Attributes the tracer wrote into the request (trace context it injected). */
  injected: Array<Attribute> | null = null;
}
