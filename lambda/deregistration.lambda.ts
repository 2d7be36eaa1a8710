import { lazyHandler } from './adapters/wiring';
import { createDeregistrationHandler } from './handlers/deregistration';

/** EC2 Instance-terminate Lifecycle Action events, and the scheduled sweep. */
export const handler = lazyHandler(createDeregistrationHandler);
