export { DockerRuntime } from './runtime.ts';
