import type { AnyProcessor } from '@ondijon/stream';
import { lightingCommuneHour } from './lighting-commune-hour';
import { signalStatus } from './signal-status';
import { trafficFlow15m, trafficFlowHour } from './traffic-flow';
import { winterCommuneDay } from './winter-commune-day';

/** The built-in processors, in an explicit list (CONTRIBUTING.md rule 4). `pnpm new:processor` appends here. */
export const processors: readonly AnyProcessor[] = [
  lightingCommuneHour,
  trafficFlow15m,
  trafficFlowHour,
  signalStatus,
  winterCommuneDay,
  // new processors above this line
];
