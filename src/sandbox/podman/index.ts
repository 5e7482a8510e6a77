export { PodmanRuntime, defaultPodmanSocket } from './runtime.ts';
