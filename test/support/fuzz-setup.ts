// vitest setupFiles entry: fast-check's global settings for every test file.
import { configureFuzz } from './fuzz.js';

configureFuzz();
