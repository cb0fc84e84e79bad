package io.metaproto.demo;

import java.io.Serializable;
import java.util.Objects;

/** Nested POJO: appears twice by reference and once more as a second instance. */
public class Inner implements Serializable {
    private static final long serialVersionUID = 1L;

    private String label;
    private int n;

    public Inner() {}

    public Inner(String label, int n) {
        this.label = label;
        this.n = n;
    }

    public String getLabel() { return label; }
    public int getN() { return n; }

    @Override
    public boolean equals(Object o) {
        if (this == o) return true;
        if (!(o instanceof Inner)) return false;
        Inner other = (Inner) o;
        return n == other.n && Objects.equals(label, other.label);
    }

    @Override
    public int hashCode() { return Objects.hash(label, n); }

    @Override
    public String toString() { return "Inner(" + label + "," + n + ")"; }
}
