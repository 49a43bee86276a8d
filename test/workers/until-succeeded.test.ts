import { describe, expect, it } from 'vitest';
import { untilSucceeded } from '../../src/workers/until-succeeded.ts';

describe('untilSucceeded', () => {
  it('runs once for concurrent callers and keeps the result', async () => {
    let runs = 0;
    const get = untilSucceeded(async () => {
      runs += 1;
      await new Promise((resolve) => setTimeout(resolve, 5));
      return runs;
    });
    expect(await Promise.all([get(), get(), get()])).toEqual([1, 1, 1]);
    expect(await get()).toBe(1);
    expect(runs).toBe(1);
  });

  it('forgets a failure, so the next caller tries again', async () => {
    let runs = 0;
    const get = untilSucceeded(() => {
      runs += 1;
      return runs < 3 ? Promise.reject(new Error(`down ${runs}`)) : Promise.resolve('up');
    });
    await expect(Promise.all([get(), get()])).rejects.toThrow('down 1');
    await expect(get()).rejects.toThrow('down 2');
    expect(await get()).toBe('up');
    expect(await get()).toBe('up');
    expect(runs).toBe(3);
  });
});
