export { AppleContainerRuntime, execFileNoShell, type ExecFn } from './runtime.ts';
