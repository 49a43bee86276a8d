import type { Clock } from '../../src/clock.ts';

/** A clock tests move by hand. */
export class TestClock implements Clock {
  private ms: number;
  constructor(start = Date.now()) {
    this.ms = start;
  }
  now(): Date {
    return new Date(this.ms);
  }
  advance(seconds: number): void {
    this.ms += seconds * 1000;
  }
}
