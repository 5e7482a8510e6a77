// Placeholder entry point; replaced by the real runner.
console.log('nanoclaw runner');
